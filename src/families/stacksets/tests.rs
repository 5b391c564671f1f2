//! Unit tests of the StackSets family (config and diff; no AWS).

//! Table-driven tests of the evaluator and the rules.

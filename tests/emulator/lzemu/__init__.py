"""lzemu: a local AWS landing-zone emulator built on moto (see ../README.md)."""

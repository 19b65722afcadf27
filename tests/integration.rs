//! Integration tests: the binary run on fixtures as an operator would, results read back.

#[path = "it/harness.rs"]
mod harness;

#[path = "it/import.rs"]
mod import;

#[path = "it/robust.rs"]
mod robust;

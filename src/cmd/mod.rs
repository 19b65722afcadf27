//! One file per subcommand: each wires sheet reading, validation, the database and
//! outputs together, and holds no parsing or scoring of its own.

pub mod audit;
pub mod batches;
pub mod closeout;
pub mod demo;
pub mod init;
pub mod roster;
pub mod steps;

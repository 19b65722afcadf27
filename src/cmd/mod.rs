//! One file per subcommand: each wires sheet reading, validation, the database and
//! outputs together, and holds no parsing or scoring of its own.

pub mod audit;
pub mod batches;
pub mod closeout;
pub mod demo;
pub mod init;
pub mod labels;
pub mod orders;
pub mod points;
pub mod prizes;
pub mod report;
pub mod roster;
pub mod ship;
pub mod steps;
pub mod survey;
pub mod verify;

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

impl crate::Ctx {
    /// What an import needs of this command's context.
    pub fn session(&mut self) -> crate::import::Session<'_> {
        crate::import::Session {
            conn: &mut self.conn,
            program: &self.program,
            operator: &self.operator,
            quiet: self.quiet,
            detail: &mut self.detail,
            recorded: &mut self.recorded,
        }
    }
}

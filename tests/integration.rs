//! Integration tests: the binary run on fixtures as an operator would, results read back.

#[path = "it/harness.rs"]
mod harness;

#[path = "it/import.rs"]
mod import;

#[path = "it/points.rs"]
mod points;

#[path = "it/audit.rs"]
mod audit;

#[path = "it/ship.rs"]
mod ship;

#[path = "it/report.rs"]
mod report;

#[path = "it/verify.rs"]
mod verify;

#[path = "it/closeout.rs"]
mod closeout;

#[path = "it/robust.rs"]
mod robust;

#[path = "it/copies.rs"]
mod copies;
#[path = "it/intake.rs"]
mod intake;
#[path = "it/prizes.rs"]
mod prizes;
#[path = "it/readers.rs"]
mod readers;

#[path = "it/postal.rs"]
mod postal;

#[path = "it/closeout_review.rs"]
mod closeout_review;

#[path = "it/listings.rs"]
mod listings;

#[path = "it/messages.rs"]
mod messages;

#[path = "it/cards.rs"]
mod cards;
#[path = "it/documents.rs"]
mod documents;

#[path = "it/pdf_labels.rs"]
mod pdf_labels;
#[path = "it/template.rs"]
mod template;

#[path = "it/keys.rs"]
mod keys;
#[path = "it/quality.rs"]
mod quality;

#[path = "it/walkthrough.rs"]
mod walkthrough;

#[path = "it/closeout_scan.rs"]
mod closeout_scan;

#[path = "it/orders.rs"]
mod orders;

pub mod init;
pub mod metrics;
pub mod schedule;

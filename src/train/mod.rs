pub mod checkpoint;
pub mod init;
pub mod metrics;
pub mod schedule;
pub mod trainer;

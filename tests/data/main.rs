//! The data pipeline against real files: image folders and CIFAR-10 batches written to a
//! temporary folder, then read back through the loader. No GPU.

mod temp;

mod cifar;
mod image_folder;
mod throughput;
mod unreadable_folder;

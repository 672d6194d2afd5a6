//! `vgg-wgpu bench`: see tests/cli/main.rs.

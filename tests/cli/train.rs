//! `vgg-wgpu train`: see tests/cli/main.rs.

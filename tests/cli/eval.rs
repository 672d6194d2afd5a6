//! `vgg-wgpu eval`, `classify`, `features`: see tests/cli/main.rs.

//! Every file in `shaders/` parses and validates with naga, the WGSL compiler wgpu uses,
//! so a broken shader fails here with naga's message rather than at pipeline creation.

use std::fs;
use std::path::Path;

#[test]
fn every_shader_validates_with_naga() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut count = 0;
    for entry in fs::read_dir(&dir).expect("shaders/ exists") {
        let path = entry.expect("readable entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("wgsl") {
            continue;
        }
        let source = fs::read_to_string(&path).expect("readable shader");
        let module = naga::front::wgsl::parse_str(&source)
            .unwrap_or_else(|e| panic!("{}: {}", path.display(), e.emit_to_string(&source)));
        // The *_subgroup shaders run only where the device has subgroups (broadcast is
        // a "ballot" operation); the rest must validate without any capability.
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let mut validator = match name.contains("subgroup") {
            true => {
                let mut v = naga::valid::Validator::new(
                    naga::valid::ValidationFlags::all(),
                    naga::valid::Capabilities::SUBGROUP,
                );
                v.subgroup_stages(naga::valid::ShaderStages::COMPUTE)
                    .subgroup_operations(naga::valid::SubgroupOperationSet::BALLOT);
                v
            }
            false => naga::valid::Validator::new(
                naga::valid::ValidationFlags::all(),
                naga::valid::Capabilities::empty(),
            ),
        };
        validator
            .validate(&module)
            .unwrap_or_else(|e| panic!("{}: {}", path.display(), e.emit_to_string(&source)));
        println!(
            "{}: valid, {} entry point(s)",
            path.display(),
            module.entry_points.len()
        );
        count += 1;
    }
    assert!(count > 0, "no .wgsl files found in {}", dir.display());
}

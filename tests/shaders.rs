//! Every file in `shaders/` parses and validates with naga, the WGSL compiler wgpu uses,
//! as the library compiles it (with `shaders/prelude.wgsl` appended), so a broken shader
//! fails here with naga's message rather than at pipeline creation. The Rust side's
//! workgroup size and parameter structs are checked against the WGSL they mirror.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use vgg_wgpu::kernels::{uniform_layouts, WORKGROUP_SIZE};

const PRELUDE: &str = "prelude.wgsl";

fn shader_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders")
}

/// Every shader file but the prelude.
fn shader_files() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(shader_dir())
        .expect("shaders/ exists")
        .map(|entry| entry.expect("readable entry").file_name())
        .filter_map(|name| name.to_str().map(str::to_string))
        .filter(|name| name.ends_with(".wgsl") && name != PRELUDE)
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no .wgsl files found in shaders/");
    names
}

/// The source the library compiles for `name` (what `kernels::shader!` builds): the file,
/// then the prelude; the prelude alone for `prelude.wgsl`.
fn source(name: &str) -> String {
    let read = |name: &str| {
        fs::read_to_string(shader_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    match name {
        PRELUDE => read(PRELUDE),
        _ => format!("{}\n{}", read(name), read(PRELUDE)),
    }
}

fn parse(name: &str) -> naga::Module {
    let source = source(name);
    naga::front::wgsl::parse_str(&source)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(&source)))
}

#[test]
fn every_shader_validates_with_naga() {
    for name in shader_files() {
        let module = parse(&name);
        // The *_subgroup shaders run only where the device has subgroups (broadcast is
        // a "ballot" operation); the rest must validate without any capability.
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
            .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(&source(&name))));
        println!(
            "{name}: valid, {} entry point(s)",
            module.entry_points.len()
        );
    }
}

/// Every function-scope `var` says its first value (`var acc = Tile();`, not `var acc:
/// Tile;`). WGSL zeroes a `var` without one each time its declaration runs, but in a loop
/// body Chromium 148's WebGPU on SwiftShader kept the last iteration's value: the blocked
/// sums of `linear.wgsl` broke training in the page while every native test passed.
#[test]
fn function_variables_have_initializers() {
    let mut bare = Vec::new();
    for name in shader_files().into_iter().chain([PRELUDE.to_string()]) {
        let text = fs::read_to_string(shader_dir().join(&name)).expect("readable shader");
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("").trim();
            // `var<storage, …>` and `var<workgroup>` are module-scope and start with `var<`.
            if code.starts_with("var ") && !code.contains('=') {
                bare.push(format!("{name}:{}: {code}", i + 1));
            }
        }
    }
    assert!(
        bare.is_empty(),
        "give these variables an initial value (e.g. `var acc = array<vec4<f32>, 4>();`):\n{}",
        bare.join("\n")
    );
}

#[test]
fn workgroup_size_agrees_with_rust() {
    let module = parse(PRELUDE);
    let (_, constant) = module
        .constants
        .iter()
        .find(|(_, c)| c.name.as_deref() == Some("WORKGROUP_SIZE"))
        .expect("prelude.wgsl declares WORKGROUP_SIZE");
    match module.global_expressions[constant.init] {
        naga::Expression::Literal(naga::Literal::U32(size)) => assert_eq!(
            size, WORKGROUP_SIZE,
            "WORKGROUP_SIZE differs between prelude.wgsl and kernels::WORKGROUP_SIZE"
        ),
        ref other => panic!("WORKGROUP_SIZE is not a u32 literal: {other:?}"),
    }
    for name in shader_files() {
        for entry in &parse(&name).entry_points {
            assert_eq!(
                entry.workgroup_size,
                [WORKGROUP_SIZE, 1, 1],
                "{name}: {} has another workgroup size than kernels::WORKGROUP_SIZE",
                entry.name
            );
        }
    }
}

/// The name of a scalar WGSL type (`u32`, `i32`, `f32`), or its debug form otherwise.
fn scalar_name(module: &naga::Module, ty: naga::Handle<naga::Type>) -> String {
    match module.types[ty].inner {
        naga::TypeInner::Scalar(naga::Scalar { kind, width: 4 }) => match kind {
            naga::ScalarKind::Uint => "u32".to_string(),
            naga::ScalarKind::Sint => "i32".to_string(),
            naga::ScalarKind::Float => "f32".to_string(),
            other => format!("{other:?}"),
        },
        ref other => format!("{other:?}"),
    }
}

#[test]
fn rust_parameter_structs_match_the_wgsl_layouts() {
    let layouts = uniform_layouts();
    for layout in &layouts {
        let what = format!("{} in {}", layout.wgsl_struct, layout.shader);
        let module = parse(layout.shader);
        let (members, span) = module
            .types
            .iter()
            .find(|(_, t)| t.name.as_deref() == Some(layout.wgsl_struct))
            .map(|(_, t)| match &t.inner {
                naga::TypeInner::Struct { members, span } => (members, *span),
                other => panic!("{what} is not a struct: {other:?}"),
            })
            .unwrap_or_else(|| panic!("{what}: no such struct"));
        assert_eq!(layout.size, span as usize, "{what}: size in bytes");
        let wgsl: Vec<(String, usize, String)> = members
            .iter()
            .filter_map(|m| {
                let name = m.name.clone().unwrap_or_default();
                let kept = !name.starts_with('_');
                kept.then(|| (name, m.offset as usize, scalar_name(&module, m.ty)))
            })
            .collect();
        let rust: Vec<(String, usize, String)> = layout
            .fields
            .iter()
            .map(|f| (f.name.to_string(), f.offset, f.wgsl_type.to_string()))
            .collect();
        assert_eq!(
            rust, wgsl,
            "{what}: fields (name, offset, type) but padding"
        );
    }

    // Every uniform a shader binds has a Rust mirror in the list.
    let mirrored: BTreeSet<&str> = layouts.iter().map(|l| l.wgsl_struct).collect();
    for name in shader_files() {
        let module = parse(&name);
        for (_, var) in module.global_variables.iter() {
            if var.space != naga::AddressSpace::Uniform {
                continue;
            }
            let ty = module.types[var.ty].name.as_deref().unwrap_or("?");
            assert!(
                mirrored.contains(ty),
                "{name}: the uniform {ty} has no Rust mirror in kernels::uniform_layouts()"
            );
        }
    }
}

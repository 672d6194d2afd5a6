//! The layouts of the Rust structs that fill the shaders' uniform buffers, so that a test
//! (tests/shaders.rs) can hold each against naga's layout of the WGSL struct it mirrors:
//! the same size, and the same named fields at the same offsets with the same types.

/// One `#[repr(C)]` parameter struct and the WGSL struct it mirrors.
#[derive(Clone, Debug)]
pub struct UniformLayout {
    /// The file in `shaders/` that declares the WGSL struct (`prelude.wgsl` for shared ones).
    pub shader: &'static str,
    /// The WGSL struct's name.
    pub wgsl_struct: &'static str,
    /// `size_of` the Rust struct, in bytes.
    pub size: usize,
    /// Every field but the padding, in declaration order.
    pub fields: Vec<UniformField>,
}

/// One field of a [`UniformLayout`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UniformField {
    pub name: &'static str,
    /// Byte offset in the struct.
    pub offset: usize,
    /// The WGSL scalar type of the same size and kind: `u32`, `i32` or `f32`.
    pub wgsl_type: &'static str,
}

/// A Rust scalar that a WGSL scalar mirrors.
pub trait WgslScalar {
    const WGSL: &'static str;
}

impl WgslScalar for u32 {
    const WGSL: &'static str = "u32";
}

impl WgslScalar for i32 {
    const WGSL: &'static str = "i32";
}

impl WgslScalar for f32 {
    const WGSL: &'static str = "f32";
}

/// The WGSL type of the field that `field` reads (only its type matters).
pub fn wgsl_type_of<S, T: WgslScalar>(_field: fn(&S) -> &T) -> &'static str {
    T::WGSL
}

/// The [`UniformLayout`] of `$ty`, mirroring `$wgsl` in `shaders/$shader`, listing its
/// fields but the padding.
macro_rules! uniform_layout {
    ($ty:ty, $shader:literal, $wgsl:literal, [$($field:ident),* $(,)?]) => {
        $crate::kernels::layout::UniformLayout {
            shader: $shader,
            wgsl_struct: $wgsl,
            size: std::mem::size_of::<$ty>(),
            fields: vec![$(
                $crate::kernels::layout::UniformField {
                    name: stringify!($field),
                    offset: std::mem::offset_of!($ty, $field),
                    wgsl_type: $crate::kernels::layout::wgsl_type_of(|p: &$ty| &p.$field),
                },
            )*],
        }
    };
}
pub(crate) use uniform_layout;

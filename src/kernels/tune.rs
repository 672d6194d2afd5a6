//! A small autotuner for the `override` constants of a kernel (tile shapes): it times a
//! few candidates on a proxy of the real problem once, and remembers the fastest per
//! adapter, driver, shader source and problem class, in memory and in a JSON file
//! (native builds: `$XDG_CACHE_HOME/vgg-wgpu/tuning.json`, else
//! `~/.cache/vgg-wgpu/tuning.json`).
//!
//! `VGG_WGPU_TUNE` steers it: unset or `on` = use the cache, measure what is missing;
//! `off` = no measuring, each kernel's default; `force` = measure again, overwriting the
//! cache. Kernels may also take fixed values from their own variables (see
//! `kernels::conv`).

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::Shader;
use crate::kernels::GpuContext;

/// Values for a shader's `override` constants.
pub type Constants = Vec<(&'static str, f64)>;

/// What `VGG_WGPU_TUNE` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TuneMode {
    On,
    Off,
    Force,
}

impl TuneMode {
    pub fn from_env() -> TuneMode {
        match std::env::var("VGG_WGPU_TUNE").as_deref() {
            Ok("off") | Ok("0") => TuneMode::Off,
            Ok("force") => TuneMode::Force,
            _ => TuneMode::On,
        }
    }
}

/// The choices made so far: key (adapter, driver, shader, problem class) → index of the
/// chosen candidate and its constants as text (for people reading the file).
type Choices = BTreeMap<String, (usize, String)>;

static CHOICES: Mutex<Option<Choices>> = Mutex::new(None);

/// The index of the fastest of `candidates` (values for the `override` constants of
/// `shader`) for problems of class `class`, measured with `seconds` (which times one
/// candidate on a proxy of the problem; None when it cannot) the first time and
/// remembered after that. `default` is used when tuning is off or impossible.
pub fn choose(
    ctx: &GpuContext,
    shader: &Shader,
    class: &str,
    candidates: &[Constants],
    default: usize,
    mut seconds: impl FnMut(&Constants) -> Option<f64>,
) -> usize {
    let mode = TuneMode::from_env();
    if mode == TuneMode::Off || candidates.len() < 2 || cfg!(target_arch = "wasm32") {
        return default;
    }
    let key = format!(
        "{} | {} {} | {} {:016x} | {class}",
        ctx.adapter_info.name,
        ctx.adapter_info.driver,
        ctx.adapter_info.driver_info,
        shader.name,
        fnv1a(shader.wgsl.as_bytes())
    );
    let mut guard = CHOICES.lock().unwrap_or_else(|e| e.into_inner());
    let choices = guard.get_or_insert_with(load);
    if mode == TuneMode::On {
        if let Some(&(index, _)) = choices.get(&key) {
            if index < candidates.len() {
                return index;
            }
        }
    }
    // The best of five runs per candidate, taken in rounds over all candidates so
    // that a burst of load from elsewhere does not fall on one of them only; another
    // shape replaces the default only when it is clearly faster (by `MARGIN`).
    const ROUNDS: usize = 5;
    const MARGIN: f64 = 0.9;
    announce_measuring();
    for c in candidates {
        seconds(c); // warm-up: compiles the pipeline, touches the buffers
    }
    let mut best_of = vec![f64::INFINITY; candidates.len()];
    for _ in 0..ROUNDS {
        for (i, c) in candidates.iter().enumerate() {
            if let Some(t) = seconds(c) {
                best_of[i] = best_of[i].min(t);
            }
        }
    }
    let fastest = (0..candidates.len()).min_by(|&a, &b| best_of[a].total_cmp(&best_of[b]));
    let index = match fastest {
        Some(i) if best_of[i].is_finite() => {
            let default_time = best_of.get(default).copied().unwrap_or(f64::INFINITY);
            if best_of[i] < MARGIN * default_time {
                i
            } else {
                default
            }
        }
        _ => return default,
    };
    let described = candidates[index]
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join(" ");
    choices.insert(key, (index, described));
    save(choices);
    index
}

/// Wall-clock seconds of one run of `launch` (a candidate on a proxy problem): submitted
/// alone and waited for; None when the wait fails.
pub fn seconds_of(ctx: &GpuContext, launch: &super::Launch) -> Option<f64> {
    let start = std::time::Instant::now();
    super::submit(ctx, std::slice::from_ref(launch));
    crate::gpu::readback::wait_for_queue(ctx).ok()?;
    Some(start.elapsed().as_secs_f64())
}

/// Says once per process why the first run on an adapter is slow: each candidate is a
/// pipeline the driver compiles (on an H200 with a cold driver cache, VGG-16's paper
/// protocol on 8 photos took 7.4 s instead of 1.8 s), and the choice is kept for later
/// runs.
fn announce_measuring() {
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        #[cfg(not(target_arch = "wasm32"))]
        let kept = cache_file().map_or("memory".into(), |f| f.display().to_string());
        #[cfg(target_arch = "wasm32")]
        let kept = "memory";
        eprintln!(
            "note: first use of these kernel shapes on this adapter: compiling and timing tile shapes (kept in {kept}; VGG_WGPU_TUNE=off skips it)"
        );
    });
}

/// 64-bit FNV-1a: a hash that stays the same across builds (of a shader's source, of
/// what a feature cache was computed from).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(not(target_arch = "wasm32"))]
fn cache_file() -> Option<std::path::PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cache")))?;
    Some(base.join("vgg-wgpu").join("tuning.json"))
}

/// The cached choices; empty when there is no file or it cannot be read.
fn load() -> Choices {
    #[cfg(not(target_arch = "wasm32"))]
    if let Some(file) = cache_file() {
        return load_from(&file);
    }
    Choices::new()
}

#[cfg(not(target_arch = "wasm32"))]
fn load_from(file: &std::path::Path) -> Choices {
    crate::input_file::read_to_string(file, crate::input_file::InputKind::Text)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// Writes the choices back; a cache that cannot be written only costs re-measuring.
fn save(choices: &Choices) {
    #[cfg(not(target_arch = "wasm32"))]
    if let Some(file) = cache_file() {
        if save_to(&file, choices).is_err() {
            eprintln!("note: could not write the tuning cache {}", file.display());
        }
    }
    #[cfg(target_arch = "wasm32")]
    let _ = choices;
}

/// Writes `choices` through a file of this process's own that is then renamed over
/// `file`, so that a process killed while writing, or two writing at once (MPI ranks),
/// never leave half a file.
#[cfg(not(target_arch = "wasm32"))]
fn save_to(file: &std::path::Path, choices: &Choices) -> std::io::Result<()> {
    if let Some(folder) = file.parent() {
        std::fs::create_dir_all(folder)?;
    }
    let partial = file.with_extension(format!("json.{}.partial", std::process::id()));
    let text = serde_json::to_string_pretty(choices)?;
    crate::atomic_file::write_via(&partial, file, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::{fnv1a, load_from, save_to, Choices};

    #[test]
    fn the_cache_reads_back_what_was_saved_and_leaves_no_partial_file() {
        let folder = std::env::temp_dir().join(format!("vgg-wgpu-tune-{}", std::process::id()));
        let file = folder.join("cache").join("tuning.json");
        assert_eq!(load_from(&file), Choices::new(), "no file: no choices");
        let mut choices = Choices::new();
        choices.insert(
            "adapter | shader | class".into(),
            (1, "ROWS=1 TILE_T=16".into()),
        );
        save_to(&file, &choices).unwrap();
        assert_eq!(load_from(&file), choices);
        choices.insert("another class".into(), (0, "ROWS=2 TILE_T=16".into()));
        save_to(&file, &choices).unwrap();
        assert_eq!(load_from(&file), choices, "saved over");
        let names: Vec<_> = std::fs::read_dir(file.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["tuning.json"]);
        std::fs::write(&file, "{ half a fi").unwrap();
        assert_eq!(
            load_from(&file),
            Choices::new(),
            "unreadable: measured again"
        );
        std::fs::remove_dir_all(folder).unwrap();
    }

    #[test]
    fn shader_hash_is_stable() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}

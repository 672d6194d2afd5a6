//! ImageNet's class names for 1000-class weights that name none (torchvision's), in
//! `classify` and `eval`, and `--labels` over them.

use std::path::PathBuf;
use std::sync::OnceLock;

use vgg_wgpu::data::Preprocessing;
use vgg_wgpu::model::{imagenet, ModelMeta, ModelSpec};

use super::eval::{path_text, picture, spec, tensors};
use crate::{scratch, stderr, vgg_wgpu};

/// What the note on assumed ImageNet class names says.
const TAKEN_AS_IMAGENET: &str = "taken as ImageNet's";

/// `spec()` with ImageNet's 1000 classes, without metadata: torchvision's layout.
fn imagenet_model() -> &'static str {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    let path = PATH.get_or_init(|| {
        let spec = ModelSpec {
            classes: imagenet::CLASSES,
            ..spec()
        };
        let path = scratch("imagenet").join("vgg-1000.safetensors");
        tensors(&spec)
            .save(&path)
            .expect("1000-class model written");
        path
    });
    path_text(path)
}

/// The (class, name) pairs of every class `classify --json --top 1000` lists.
fn classify_names(args: &[&str]) -> (Vec<(usize, String)>, String) {
    let top = imagenet::CLASSES.to_string();
    let output = vgg_wgpu(&[&["classify", "--json", "--top", &top], args].concat());
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let names = json[0]["top"]
        .as_array()
        .expect("top classes")
        .iter()
        .map(|c| {
            let class = c["class"].as_u64().unwrap() as usize;
            (class, c["name"].as_str().unwrap().to_string())
        })
        .collect();
    (names, stderr(&output))
}

/// 1000-class torchvision weights printed "class 281" where ImageNet's "tabby" belongs.
#[test]
fn imagenet_names_are_given_to_1000_classes_without_names_and_labels_override_them() {
    let dir = scratch("imagenet-classify");
    let image = picture(&dir, "a.png", 40, 32);
    let imagenet = imagenet::class_names();
    let (names, note) = classify_names(&["--weights", imagenet_model(), &image]);
    assert_eq!(names.len(), imagenet::CLASSES);
    for (class, name) in &names {
        assert_eq!(*name, imagenet[*class], "class {class}");
    }
    for part in [imagenet_model(), TAKEN_AS_IMAGENET, "--labels"] {
        assert!(note.contains(part), "no '{part}' in: {note}");
    }
    let output = vgg_wgpu(&["classify", "--weights", imagenet_model(), &image]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains(&format!("%  {}\n", names[0].1)), "{text}");

    let labels = dir.join("labels.txt");
    let lines: Vec<String> = (0..imagenet::CLASSES).map(|i| format!("n{i:08}")).collect();
    std::fs::write(&labels, lines.join("\n")).unwrap();
    let given = [
        "--weights",
        imagenet_model(),
        "--labels",
        path_text(&labels),
    ];
    let (names, note) = classify_names(&[&given[..], &[image.as_str()]].concat());
    for (class, name) in &names {
        assert_eq!(*name, lines[*class], "class {class}");
    }
    assert!(!note.contains(TAKEN_AS_IMAGENET), "{note}");

    // Our own 1000-class files keep the names they carry.
    let spec = ModelSpec {
        classes: imagenet::CLASSES,
        ..spec()
    };
    let mut w = tensors(&spec);
    let own = (0..imagenet::CLASSES).map(|i| format!("own {i}")).collect();
    ModelMeta::new(&spec, own, Preprocessing::TORCHVISION, [37, 37]).write(&mut w);
    let ours = dir.join("ours.safetensors");
    w.save(&ours).unwrap();
    let (names, note) = classify_names(&["--weights", path_text(&ours), &image]);
    assert!(
        names.iter().all(|(c, n)| *n == format!("own {c}")),
        "{names:?}"
    );
    assert!(!note.contains(TAKEN_AS_IMAGENET), "{note}");
}

/// eval matches a data set's class folders to the model's names: with ImageNet's names
/// attached, folders named after ImageNet classes are found by name, in any order.
#[test]
fn eval_matches_imagenet_class_folders_by_name() {
    let root = scratch("imagenet-eval");
    for class in ["tabby", "goldfish", "tench"] {
        for split in ["train", "val"] {
            let dir = root.join(split).join(class);
            std::fs::create_dir_all(&dir).unwrap();
            picture(&dir, "a.png", 32, 32);
        }
    }
    let by_index = "label i is taken as the model's class i";
    let eval = [
        "eval",
        "--weights",
        imagenet_model(),
        "--data",
        path_text(&root),
        "--scales",
        "32",
        "--json",
    ];
    let output = vgg_wgpu(&eval);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(json["rows"][0]["images"], 3);
    assert!(!stderr(&output).contains(by_index), "{}", stderr(&output));

    // Names that do not include the folders' fall back to the index, as before.
    let labels = root.join("labels.txt");
    let lines: Vec<String> = (0..imagenet::CLASSES).map(|i| format!("n{i:08}")).collect();
    std::fs::write(&labels, lines.join("\n")).unwrap();
    let output = vgg_wgpu(&[&eval[..], &["--labels", path_text(&labels)]].concat());
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains(by_index), "{}", stderr(&output));
}

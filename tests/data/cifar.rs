use vgg_wgpu::data::cifar::{RECORD, TEST_FILE, TRAIN_FILES};
use vgg_wgpu::data::{Cifar10, Dataset};
use vgg_wgpu::Error;

use crate::temp::TempDir;

/// A record whose pixel (x, y) is (label, 10 * x + y, 255 - y) in RGB.
fn record(label: u8) -> Vec<u8> {
    let mut r = vec![label];
    for plane in 0..3 {
        for y in 0..32u32 {
            for x in 0..32u32 {
                r.push(match plane {
                    0 => label,
                    1 => (10 * x + y) as u8,
                    _ => 255 - y as u8,
                });
            }
        }
    }
    assert_eq!(r.len(), RECORD);
    r
}

/// Five training files of two records each (labels 0..10) and a test file of three.
fn write_cifar(dir: &TempDir, sub: &str) {
    for (f, name) in TRAIN_FILES.iter().enumerate() {
        let bytes: Vec<u8> = [2 * f as u8, 2 * f as u8 + 1]
            .iter()
            .flat_map(|&l| record(l))
            .collect();
        dir.write(&format!("{sub}{name}"), &bytes);
    }
    let test: Vec<u8> = [7u8, 8, 9].iter().flat_map(|&l| record(l)).collect();
    dir.write(&format!("{sub}{TEST_FILE}"), &test);
}

#[test]
fn parses_records_planes_and_labels() {
    let dir = TempDir::new("cifar");
    write_cifar(&dir, "");
    let splits = Cifar10::open(dir.path()).unwrap();
    assert_eq!((splits.train.len(), splits.val.len()), (10, 3));
    assert_eq!(
        (0..10).map(|i| splits.train.label(i)).collect::<Vec<_>>(),
        (0..10).collect::<Vec<_>>()
    );
    assert_eq!(splits.val.label(2), 9);
    assert_eq!(splits.train.class_names()[0], "airplane");
    let img = splits.train.image(3).unwrap();
    assert_eq!(img.dimensions(), (32, 32));
    assert_eq!(img.get_pixel(5, 2).0, [3, 52, 253]);
    assert!(splits.train.image(10).is_err());
}

#[test]
fn class_names_from_meta_and_archive_subfolder() {
    let dir = TempDir::new("cifar-meta");
    write_cifar(&dir, "cifar-10-batches-bin/");
    let names: String = (0..10).map(|i| format!("class{i}\n")).collect();
    dir.write("cifar-10-batches-bin/batches.meta.txt", names.as_bytes());
    let splits = Cifar10::open(dir.path()).unwrap();
    assert_eq!(splits.val.class_names()[9], "class9");
}

#[test]
fn missing_and_truncated_files_are_named() {
    let dir = TempDir::new("cifar-bad");
    write_cifar(&dir, "");
    std::fs::remove_file(dir.path().join("data_batch_4.bin")).unwrap();
    let shown = Cifar10::open(dir.path()).unwrap_err().to_string();
    assert!(
        shown.contains("data_batch_4.bin") && shown.contains("binary version"),
        "{shown}"
    );

    let mut short = record(1);
    short.extend_from_slice(&record(2)[..100]);
    let path = dir.write("data_batch_4.bin", &short);
    match Cifar10::open(dir.path()) {
        Err(Error::Data { path: p, message }) => {
            assert_eq!(p, path);
            assert!(
                message.contains("3173 bytes") && message.contains("3073"),
                "{message}"
            );
        }
        other => panic!("expected a Data error, got {:?}", other.map(|_| ())),
    }

    dir.write("data_batch_4.bin", &record(10));
    let shown = Cifar10::open(dir.path()).unwrap_err().to_string();
    assert!(shown.contains("label 10"), "{shown}");
}

/// A batch file or the class names file that is a link to /dev/zero: the batch was read
/// until memory ran out, and the class names silently replaced by the standard ones.
#[cfg(unix)]
#[test]
fn special_files_are_refused_naming_them() {
    let dir = TempDir::new("cifar-special");
    write_cifar(&dir, "");
    let meta = dir.path().join("batches.meta.txt");
    std::os::unix::fs::symlink("/dev/zero", &meta).unwrap();
    let shown = Cifar10::open(dir.path()).unwrap_err().to_string();
    assert!(
        shown.contains("batches.meta.txt") && shown.contains("a character device"),
        "{shown}"
    );
    std::fs::remove_file(&meta).unwrap();

    let batch = dir.path().join("data_batch_2.bin");
    std::fs::remove_file(&batch).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &batch).unwrap();
    match Cifar10::open(dir.path()) {
        Err(Error::Io { path, source, .. }) => {
            assert_eq!(path, batch);
            assert!(
                source.to_string().contains("a character device"),
                "{source}"
            );
        }
        other => panic!("expected an Io error, got {:?}", other.map(|_| ())),
    }
}

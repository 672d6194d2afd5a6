use std::io::Cursor;
use std::sync::Arc;

use image::{DynamicImage, GrayImage, ImageFormat, Luma, Rgb, RgbImage, Rgba, RgbaImage};
use vgg_wgpu::data::{
    Batch, Dataset, EvalTransform, ImageFolder, Loader, LoaderConfig, Preprocessing, TrainAugment,
    Transform,
};
use vgg_wgpu::train::data_source::DataSource;
use vgg_wgpu::Error;

use crate::temp::TempDir;
use crate::unreadable_folder;

fn encode(image: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Cursor::new(Vec::new());
    image.write_to(&mut bytes, format).unwrap();
    bytes.into_inner()
}

fn jpeg(seed: u8) -> Vec<u8> {
    let img = RgbImage::from_fn(48, 40, |x, y| {
        Rgb([x as u8 * 5, y as u8 * 6, seed.wrapping_mul(40)])
    });
    encode(DynamicImage::ImageRgb8(img), ImageFormat::Jpeg)
}

/// root/train/{cat,dog}/, root/val/{cat,dog}/ with two images per class and split.
fn small_folder(name: &str) -> TempDir {
    let dir = TempDir::new(name);
    for split in ["train", "val"] {
        for class in ["dog", "cat"] {
            for i in 0..2 {
                dir.write(&format!("{split}/{class}/{i}.jpg"), &jpeg(i));
            }
        }
    }
    dir
}

fn data_error(result: vgg_wgpu::Result<impl Sized>) -> (std::path::PathBuf, String) {
    match result {
        Err(Error::Data { path, message }) => (path, message),
        Err(e) => panic!("expected a Data error, got {e}"),
        Ok(_) => panic!("expected a Data error, got Ok"),
    }
}

#[test]
fn classes_are_sorted_train_folders_shared_with_val() {
    let dir = small_folder("sorted");
    dir.write("train/cat/notes.txt", b"not an image");
    dir.write("train/.hidden/x.jpg", &jpeg(0));
    let splits = ImageFolder::open(dir.path(), false).unwrap();
    assert_eq!(splits.train.class_names(), ["cat", "dog"]);
    assert_eq!(splits.val.class_names(), ["cat", "dog"]);
    assert_eq!(splits.train.len(), 4);
    let labels: Vec<u32> = (0..4).map(|i| splits.train.label(i)).collect();
    assert_eq!(labels, [0, 0, 1, 1]);
    assert!(splits.train.path(2).unwrap().ends_with("dog/0.jpg"));
    assert_eq!(splits.train.image(0).unwrap().dimensions(), (48, 40));
}

#[test]
fn val_may_lack_a_class_but_not_add_one() {
    let dir = small_folder("val-classes");
    std::fs::remove_dir_all(dir.path().join("val/cat")).unwrap();
    let splits = ImageFolder::open(dir.path(), false).unwrap();
    assert_eq!(splits.val.len(), 2);
    assert_eq!(splits.val.label(0), 1, "dog keeps train's label");

    dir.write("val/bird/0.jpg", &jpeg(0));
    let (path, message) = data_error(ImageFolder::open(dir.path(), false));
    assert!(path.ends_with("val/bird"), "{}", path.display());
    assert!(
        message.contains("'bird'") && message.contains("rename or remove"),
        "{message}"
    );
}

#[test]
fn missing_root_is_named() {
    let dir = TempDir::new("missing-root");
    let root = dir.path().join("no-such-folder");
    let (path, message) = data_error(ImageFolder::open(&root, false));
    assert_eq!(path, root);
    assert!(message.contains("does not exist"), "{message}");
    let shown = ImageFolder::open(&root, false).unwrap_err().to_string();
    assert!(shown.contains("no-such-folder"), "{shown}");
}

#[test]
fn missing_train_or_val_folder_is_named() {
    let dir = TempDir::new("no-train");
    dir.write("val/cat/0.jpg", &jpeg(0));
    let (path, message) = data_error(ImageFolder::open(dir.path(), false));
    assert!(path.ends_with("train"), "{}", path.display());
    assert!(message.contains("no train/ folder"), "{message}");

    let dir = TempDir::new("no-val");
    dir.write("train/cat/0.jpg", &jpeg(0));
    let (path, _) = data_error(ImageFolder::open(dir.path(), false));
    assert!(path.ends_with("val"), "{}", path.display());
}

#[test]
fn empty_class_folder_is_named() {
    let dir = small_folder("empty-class");
    dir.mkdir("train/emu");
    dir.write("train/emu/readme.txt", b"no images here");
    let (path, message) = data_error(ImageFolder::open(dir.path(), false));
    assert!(path.ends_with("train/emu"), "{}", path.display());
    assert!(
        message.contains("no .jpg, .jpeg or .png images"),
        "{message}"
    );
}

#[test]
fn no_images_at_all() {
    let dir = TempDir::new("no-images");
    dir.mkdir("train");
    dir.mkdir("val");
    let (path, message) = data_error(ImageFolder::open(dir.path(), false));
    assert!(path.ends_with("train"));
    assert!(message.contains("no images found"), "{message}");

    dir.write("train/loose.jpg", &jpeg(0));
    let (_, message) = data_error(ImageFolder::open(dir.path(), false));
    assert!(message.contains("1 images directly inside"), "{message}");
}

#[test]
fn grayscale_alpha_and_misnamed_images_become_rgb() {
    let dir = small_folder("gray");
    let gray = GrayImage::from_fn(20, 10, |x, _| Luma([x as u8 * 10]));
    dir.write(
        "train/cat/gray.png",
        &encode(DynamicImage::ImageLuma8(gray), ImageFormat::Png),
    );
    let rgba = RgbaImage::from_pixel(8, 8, Rgba([10, 20, 30, 0]));
    dir.write(
        "train/cat/rgba.png",
        &encode(DynamicImage::ImageRgba8(rgba), ImageFormat::Png),
    );
    // A PNG named .jpg: the format comes from the content.
    let png = encode(
        DynamicImage::ImageRgb8(RgbImage::from_pixel(4, 4, Rgb([1, 2, 3]))),
        ImageFormat::Png,
    );
    dir.write("train/cat/really-png.jpg", &png);

    let train = ImageFolder::open(dir.path(), true).unwrap().train;
    let find = |name: &str| {
        (0..train.len())
            .find(|&i| train.path(i).unwrap().ends_with(name))
            .unwrap()
    };

    let img = train.image(find("gray.png")).unwrap();
    assert_eq!(img.dimensions(), (20, 10));
    assert_eq!(img.get_pixel(7, 3).0, [70, 70, 70]);
    assert_eq!(
        train.image(find("rgba.png")).unwrap().get_pixel(0, 0).0,
        [10, 20, 30]
    );
    assert_eq!(
        train
            .image(find("really-png.jpg"))
            .unwrap()
            .get_pixel(3, 3)
            .0,
        [1, 2, 3]
    );
}

/// Every batch of one evaluation epoch over `dataset`.
fn eval_batches(dataset: ImageFolder) -> Vec<vgg_wgpu::data::Batch> {
    eval_loader(dataset)
        .epoch(0, 0)
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

fn eval_loader(dataset: ImageFolder) -> Loader {
    let eval = EvalTransform {
        q: 32,
        crop: 32,
        preprocessing: Preprocessing::mean_only([0.0; 3]),
    };
    let config = LoaderConfig {
        workers: 2,
        ..LoaderConfig::eval(3)
    };
    Loader::new(Arc::new(dataset), Transform::Eval(eval), config).unwrap()
}

#[test]
fn truncated_jpeg_is_skipped_and_reported_or_fails_in_strict_mode() {
    let dir = small_folder("truncated");
    let whole = jpeg(9);
    let cut = dir.write("train/dog/cut.jpg", &whole[..whole.len() * 2 / 3]);
    let junk = dir.write("train/cat/junk.png", b"\x89PNG\r\n\x1a\nthis is not a png");

    // Default: an evaluation loader leaves them out of their batch and names them.
    let train = ImageFolder::open(dir.path(), false).unwrap().train;
    assert_eq!(train.len(), 6, "listing does not decode");
    let cut_index = (0..6)
        .find(|&i| train.path(i) == Some(cut.as_path()))
        .unwrap();
    match train.image(cut_index) {
        Err(Error::BadImage { path, message }) => {
            assert_eq!(path, cut);
            assert!(message.contains("truncated"), "{message}");
        }
        other => panic!("expected BadImage, got {other:?}"),
    }
    let paths: Vec<_> = (0..6)
        .map(|i| train.path(i).unwrap().to_path_buf())
        .collect();
    let batches = eval_batches(train);
    let kept: usize = batches.iter().map(|b| b.len()).sum();
    let mut unreadable: Vec<_> = batches
        .iter()
        .flat_map(|b| b.unreadable.iter().map(|&i| paths[i].clone()))
        .collect();
    unreadable.sort();
    assert_eq!(kept, 4);
    assert_eq!(unreadable, [junk.clone(), cut.clone()]);
    for b in &batches {
        assert_eq!(b.images.len(), b.len() * 3 * 32 * 32);
    }

    // Strict: the first bad file stops the epoch with an error naming it.
    let strict = ImageFolder::open(dir.path(), true).unwrap().train;
    let results: Vec<_> = eval_loader(strict).epoch(0, 0).unwrap().collect();
    let error = results
        .iter()
        .find_map(|r| r.as_ref().err())
        .expect("strict mode fails");
    let shown = error.to_string();
    assert!(
        shown.contains("junk.png") || shown.contains("cut.jpg"),
        "{shown}"
    );
    assert!(shown.contains("without strict mode"), "{shown}");
    assert!(
        results.last().unwrap().is_err(),
        "iteration ends at the error"
    );
}

/// Batches of 8 for training.
fn train_loader(dataset: ImageFolder, workers: usize, shard: (usize, usize)) -> Loader {
    let augment = TrainAugment {
        s_min: 32,
        s_max: 40,
        crop: 32,
        flip: true,
        colour: None,
        preprocessing: Preprocessing::mean_only([0.0; 3]),
    };
    let config = LoaderConfig {
        drop_last: true,
        workers,
        shard,
        ..LoaderConfig::train(8, 4)
    };
    Loader::new(Arc::new(dataset), Transform::Train(augment), config).unwrap()
}

/// Four unreadable files among 40 images cost up to 4 of the 5 training batches.
#[test]
fn unreadable_images_are_replaced_in_training_batches() {
    let dir = TempDir::new("replaced");
    let broken_files = unreadable_folder::write(dir.path());
    let open = || ImageFolder::open(dir.path(), false).unwrap().train;
    let train = open();
    assert_eq!(train.len(), 40);
    let broken: Vec<usize> = (0..40)
        .filter(|&i| broken_files.iter().any(|f| train.path(i) == Some(f)))
        .collect();
    let epoch = |loader: &Loader| -> Vec<Batch> {
        loader.epoch(1, 0).unwrap().map(|b| b.unwrap()).collect()
    };

    let batches = epoch(&train_loader(open(), 0, (0, 1)));
    assert_eq!(batches.len(), 5);
    assert!(batches.iter().all(|b| b.len() == 8), "every batch is full");
    let mut unreadable: Vec<usize> = batches.iter().flat_map(|b| b.unreadable.clone()).collect();
    unreadable.sort();
    assert_eq!(unreadable, broken, "each met once in the epoch");
    for workers in [1, 2] {
        assert_eq!(epoch(&train_loader(open(), workers, (0, 1))), batches);
    }
    // Two processes, each making its half of every batch.
    let halves = [0, 1].map(|index| epoch(&train_loader(open(), 2, (index, 2))));
    for (k, batch) in batches.iter().enumerate() {
        let images = [halves[0][k].images.clone(), halves[1][k].images.clone()].concat();
        assert_eq!(images, batch.images, "batch {k}");
        let labels = [halves[0][k].labels.clone(), halves[1][k].labels.clone()].concat();
        assert_eq!(labels, batch.labels, "batch {k}");
    }
    // Strict: the first unreadable image stops the epoch, no substitute taken.
    let strict = ImageFolder::open(dir.path(), true).unwrap().train;
    let error = train_loader(strict, 0, (0, 1))
        .epoch(1, 0)
        .unwrap()
        .find_map(|b| b.err())
        .expect("strict mode fails");
    let shown = error.to_string();
    assert!(
        broken_files
            .iter()
            .any(|f| shown.contains(&*f.to_string_lossy())),
        "{shown}"
    );
    assert!(shown.contains("without strict mode"), "{shown}");
}

/// photos/<class>/ with `counts[i]` images in class i, no train/ or val/.
fn photo_folder(name: &str, counts: &[usize]) -> TempDir {
    let dir = TempDir::new(name);
    for (c, &count) in counts.iter().enumerate() {
        for i in 0..count {
            dir.write(&format!("class{c}/{i:02}.jpg"), &jpeg(i as u8));
        }
    }
    dir
}

#[test]
fn a_val_split_holds_out_a_share_of_each_class_the_same_for_a_seed() {
    let dir = photo_folder("val-split", &[20, 10, 3, 1]);
    let files = |s: &ImageFolder| -> Vec<(String, u32)> {
        (0..s.len())
            .map(|i| (s.path(i).unwrap().display().to_string(), s.label(i)))
            .collect()
    };
    let split = ImageFolder::split(dir.path(), 0.2, 7, false).unwrap();
    let per_class = |s: &ImageFolder| {
        let mut counts = [0; 4];
        (0..s.len()).for_each(|i| counts[s.label(i) as usize] += 1);
        counts
    };
    // 20% of 20, of 10, of 3 (rounded, at least one) and none of a class of one.
    assert_eq!(per_class(&split.val), [4, 2, 1, 0]);
    assert_eq!(per_class(&split.train), [16, 8, 2, 1]);
    assert_eq!(
        split.train.class_names(),
        ["class0", "class1", "class2", "class3"]
    );
    let mut all = [files(&split.train), files(&split.val)].concat();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 34, "every image in exactly one split");

    let again = ImageFolder::split(dir.path(), 0.2, 7, false).unwrap();
    assert_eq!(
        files(&again.val),
        files(&split.val),
        "the same seed, the same split"
    );
    let other = ImageFolder::split(dir.path(), 0.2, 8, false).unwrap();
    assert_ne!(
        files(&other.val),
        files(&split.val),
        "another seed, another split"
    );
}

#[test]
fn a_val_split_of_an_already_split_folder_is_refused() {
    let dir = small_folder("split-twice");
    let (_, message) = data_error(ImageFolder::split(dir.path(), 0.1, 0, false));
    assert!(message.contains("leave out --val-split"), "{message}");
}

/// A one-class folder trains to a loss of zero and learns nothing: refused by name.
#[test]
fn training_data_with_one_class_is_refused() {
    let dir = photo_folder("one-class", &[6]);
    let source = DataSource::Split {
        path: dir.path().to_path_buf(),
        val_split: 0.2,
    };
    let (path, message) = data_error(source.open(0, false));
    assert_eq!(path, dir.path());
    assert!(
        message.contains("one class ('class0')") && message.contains("at least two"),
        "{message}"
    );
    let two = photo_folder("two-classes", &[6, 6]);
    let source = DataSource::Split {
        path: two.path().to_path_buf(),
        val_split: 0.2,
    };
    assert!(source.open(0, false).is_ok());
}

/// A class folder's entry named like an image that is a link to /dev/zero, or a FIFO:
/// reading them grew without end or blocked forever. Now each is an unreadable image
/// (skipped, or an error in strict mode) that names what it is, read without blocking;
/// a link to a real image is read as that image.
#[cfg(unix)]
#[test]
fn special_files_among_the_images_are_unreadable_images() {
    let dir = small_folder("special");
    let zero = dir.path().join("train/dog/zero.png");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let fifo = dir.path().join("train/cat/pipe.jpg");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.unwrap().success(), "mkfifo");
    let real = dir.path().join("train/cat/0.jpg");
    let link = dir.path().join("train/cat/link.jpg");
    std::os::unix::fs::symlink(&real, &link).unwrap();

    let train = ImageFolder::open(dir.path(), false).unwrap().train;
    assert_eq!(train.len(), 7);
    let index = |p: &std::path::Path| (0..7).find(|&i| train.path(i) == Some(p)).unwrap();
    let zero_index = index(&zero);
    for (path, kind) in [(&zero, "a character device"), (&fifo, "a FIFO")] {
        match train.image(index(path)) {
            Err(Error::BadImage { path: p, message }) => {
                assert_eq!(&p, path);
                assert!(
                    message.contains(kind) && message.contains("not a regular file"),
                    "{message}"
                );
            }
            other => panic!("expected BadImage for {path:?}, got {other:?}"),
        }
    }
    assert_eq!(
        train.image(index(&link)).unwrap(),
        train.image(index(&real)).unwrap()
    );
    let batches = eval_batches(train);
    let kept: usize = batches.iter().map(|b| b.len()).sum();
    let unreadable: Vec<usize> = batches.iter().flat_map(|b| b.unreadable.clone()).collect();
    assert_eq!((kept, unreadable.len()), (5, 2), "{unreadable:?}");

    let strict = ImageFolder::open(dir.path(), true).unwrap().train;
    match strict.image(zero_index) {
        Err(Error::Data { path, message }) => {
            assert_eq!(path, zero);
            assert!(message.contains("a character device"), "{message}");
        }
        other => panic!("expected a Data error in strict mode, got {other:?}"),
    }
}

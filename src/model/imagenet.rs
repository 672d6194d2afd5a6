//! The 1000 ILSVRC-2012 (ImageNet) class names in the class order of torchvision's
//! ImageNet weights, for weight files that carry no names of their own.
//! `imagenet_classes.txt` is written by `imagenet_classes.py` beside it; it is compiled
//! in, so the CLI and the browser page have it without reading files.

const TEXT: &str = include_str!("imagenet_classes.txt");

/// How many classes ILSVRC-2012 has.
pub const CLASSES: usize = 1000;

/// The class names, class 0 first.
pub fn class_names() -> Vec<String> {
    TEXT.lines().map(String::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_has_one_name_per_class_in_torchvisions_order() {
        let names = class_names();
        assert_eq!(names.len(), CLASSES);
        if let Some(i) = names
            .iter()
            .position(|n| n.trim().is_empty() || n != n.trim())
        {
            panic!("class {i} has a blank or padded name: {:?}", names[i]);
        }
        // `eval` matches a data set's class folders to these names: each must be one class.
        let unique: std::collections::HashSet<&String> = names.iter().collect();
        assert_eq!(unique.len(), CLASSES, "a name is repeated");
        // Spot checks at both ends and in between, against torchvision's list.
        for (index, name) in [
            (0, "tench"),
            (1, "goldfish"),
            (281, "tabby"),
            (999, "toilet tissue"),
        ] {
            assert_eq!(names[index], name, "class {index}");
        }
    }
}

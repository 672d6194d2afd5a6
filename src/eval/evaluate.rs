//! One test image through the protocols asked for: dense evaluation (with the mirror
//! image's posterior averaged in when `flip`) and 50-crop evaluation at each scale,
//! for one model or an ensemble (posteriors averaged over models), and the rows of the
//! paper's tables built from them.

use image::RgbImage;

use super::input::Planes;
use super::model::TestModel;
use super::protocol::{check_scales, crop_grid, mean, mean_of_rows};
use crate::error::Result;
use crate::kernels::GpuContext;

/// What to evaluate.
#[derive(Clone, Debug, PartialEq)]
pub struct Protocol {
    /// Test scales Q (smallest image side), each at least the training size.
    pub scales: Vec<u32>,
    pub dense: bool,
    pub multi_crop: bool,
    /// Dense: average the posteriors of the image and its mirror.
    pub flip: bool,
}

/// The posteriors of one image.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImagePosteriors {
    /// Dense posterior per scale, in `scales` order (empty without dense).
    pub dense: Vec<Vec<f32>>,
    /// Multi-crop posterior (mean over 50 crops) per scale (empty without multi-crop).
    pub multi_crop: Vec<Vec<f32>>,
    /// Dense only: FC2's output averaged over positions, flips and scales.
    pub features: Vec<f32>,
}

/// `image` under `protocol` through one model.
pub async fn evaluate_image(
    ctx: &GpuContext,
    model: &mut TestModel,
    image: &RgbImage,
    protocol: &Protocol,
) -> Result<ImagePosteriors> {
    let classes = model.spec.classes;
    let crop = model.spec.input_size;
    check_scales(&protocol.scales, crop as u32)?;
    let mut out = ImagePosteriors::default();
    let mut features = Vec::new();
    for &q in &protocol.scales {
        model.check_input_size(ctx, image.dimensions(), q)?;
        let planes = Planes::rescaled(image, q, &model.meta.preprocessing)?;
        let (h, w) = (planes.height, planes.width);
        if protocol.dense {
            let batch = planes.dense_batch(protocol.flip);
            let n = 1 + protocol.flip as usize;
            let r = model.dense(ctx, &batch, n, h, w).await?;
            out.dense.push(mean_of_rows(&r.probabilities, classes));
            features.push(mean_of_rows(&r.features, r.features.len() / n));
        }
        if protocol.multi_crop {
            let grid = crop_grid(w as u32, h as u32, crop as u32);
            let mut crops = Vec::with_capacity(2 * grid.len() * 3 * crop * crop);
            for flip in [false, true] {
                for &corner in &grid {
                    planes.crop_into(corner, crop, flip, &mut crops);
                }
            }
            let p = model.crops(ctx, &crops, 2 * grid.len()).await?;
            out.multi_crop.push(mean_of_rows(&p, classes));
        }
    }
    out.features = mean(&features);
    Ok(out)
}

/// `image` under `protocol` through every model, posteriors averaged over the models
/// (features too, which is meaningful only for one model or models of one width).
pub async fn evaluate_ensemble(
    ctx: &GpuContext,
    models: &mut [TestModel],
    image: &RgbImage,
    protocol: &Protocol,
) -> Result<ImagePosteriors> {
    let mut each = Vec::with_capacity(models.len());
    for model in models.iter_mut() {
        each.push(evaluate_image(ctx, model, image, protocol).await?);
    }
    if each.len() == 1 {
        return Ok(each.pop().expect("one"));
    }
    let across = |pick: &dyn Fn(&ImagePosteriors) -> &Vec<Vec<f32>>| -> Vec<Vec<f32>> {
        (0..pick(&each[0]).len())
            .map(|s| mean(&each.iter().map(|p| pick(p)[s].clone()).collect::<Vec<_>>()))
            .collect()
    };
    Ok(ImagePosteriors {
        dense: across(&|p| &p.dense),
        multi_crop: across(&|p| &p.multi_crop),
        features: mean(&each.iter().map(|p| p.features.clone()).collect::<Vec<_>>()),
    })
}

/// The rows of Tables 3–5 that `protocol` asks for, each (name, posterior): dense at
/// each scale and over all scales, multi-crop over all scales, and dense + multi-crop.
pub fn table_rows(protocol: &Protocol, p: &ImagePosteriors) -> Vec<(String, Vec<f32>)> {
    let list = |q: &[u32]| {
        let q: Vec<String> = q.iter().map(u32::to_string).collect();
        if q.len() == 1 {
            format!("Q={}", q[0])
        } else {
            format!("Q={{{}}}", q.join(","))
        }
    };
    let all = list(&protocol.scales);
    let dense_name = if protocol.flip { "dense+flip" } else { "dense" };
    let mut out = Vec::new();
    if protocol.dense {
        if protocol.scales.len() > 1 {
            for (q, posterior) in protocol.scales.iter().zip(&p.dense) {
                out.push((format!("{dense_name}, {}", list(&[*q])), posterior.clone()));
            }
        }
        out.push((format!("{dense_name}, {all}"), mean(&p.dense)));
    }
    if protocol.multi_crop {
        out.push((format!("multi-crop, {all}"), mean(&p.multi_crop)));
    }
    if protocol.dense && protocol.multi_crop {
        let both = mean(&[mean(&p.dense), mean(&p.multi_crop)]);
        out.push((format!("{dense_name} + multi-crop, {all}"), both));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_follow_the_papers_tables() {
        let protocol = Protocol {
            scales: vec![32, 36],
            dense: true,
            multi_crop: true,
            flip: true,
        };
        let p = ImagePosteriors {
            dense: vec![vec![1.0, 0.0], vec![0.0, 1.0]],
            multi_crop: vec![vec![1.0, 0.0], vec![1.0, 0.0]],
            features: vec![],
        };
        let rows = table_rows(&protocol, &p);
        let names: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "dense+flip, Q=32",
                "dense+flip, Q=36",
                "dense+flip, Q={32,36}",
                "multi-crop, Q={32,36}",
                "dense+flip + multi-crop, Q={32,36}"
            ]
        );
        assert_eq!(rows[2].1, [0.5, 0.5]);
        assert_eq!(rows[4].1, [0.75, 0.25]);
    }
}

//! The values of `train`'s options, checked as clap parses them (a bad one is an exit
//! with status 2 and a message naming the option) or, for those that depend on others,
//! when the options are put together.

use vgg_wgpu::error::{Error, Result};

fn number(text: &str) -> std::result::Result<f32, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number"))
}

/// A learning rate: positive and finite (NaN or a negative rate makes every step diverge).
pub(super) fn learning_rate(text: &str) -> std::result::Result<f32, String> {
    let lr = number(text)?;
    match lr.is_finite() && lr > 0.0 {
        true => Ok(lr),
        false => Err(format!(
            "the learning rate must be a positive finite number, e.g. 0.01; got {text}"
        )),
    }
}

/// 0 ≤ value < 1: a fraction of the gradient (momentum) or of the units (dropout).
fn fraction(what: &str, text: &str) -> std::result::Result<f32, String> {
    let value = number(text)?;
    match (0.0..1.0).contains(&value) {
        true => Ok(value),
        false => Err(format!("{what} must be at least 0 and below 1; got {text}")),
    }
}

pub(super) fn momentum(text: &str) -> std::result::Result<f32, String> {
    fraction("momentum", text)
}

pub(super) fn dropout(text: &str) -> std::result::Result<f32, String> {
    fraction("the dropout probability", text)
}

pub(super) fn weight_decay(text: &str) -> std::result::Result<f32, String> {
    let decay = number(text)?;
    match decay.is_finite() && decay >= 0.0 {
        true => Ok(decay),
        false => Err(format!(
            "weight decay must be 0 or a positive finite number, e.g. 5e-4; got {text}"
        )),
    }
}

/// A multiplier of the learning rate: 0 (no update) or more, finite.
pub(super) fn lr_multiplier(text: &str) -> std::result::Result<f32, String> {
    let value = number(text)?;
    match value.is_finite() && value >= 0.0 {
        true => Ok(value),
        false => Err(format!(
            "must be 0 or a positive finite multiplier, e.g. 0.1; got {text}"
        )),
    }
}

/// A fraction strictly between 0 and 1.
pub(super) fn val_split(text: &str) -> std::result::Result<f32, String> {
    let value = number(text)?;
    match value > 0.0 && value < 1.0 {
        true => Ok(value),
        false => Err(format!(
            "must be a fraction above 0 and below 1, e.g. 0.1; got {text}"
        )),
    }
}

/// A count that means nothing at 0 (passes per step, steps between checkpoints).
pub(super) fn at_least_one(text: &str) -> std::result::Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("must be a whole number of at least 1; got {text}")),
    }
}

pub(crate) fn parse_scale(text: Option<&str>, crop: usize) -> Result<(u32, u32)> {
    let bad = || Error::InvalidArgument {
        op: "--scale",
        message: format!(
            "'{}' is not S or Smin:Smax, e.g. 256 or 256:512",
            text.unwrap_or("")
        ),
    };
    match text {
        None => {
            let s = (crop + crop / 8) as u32;
            Ok((s, s))
        }
        Some(t) => {
            let (a, b) = t.split_once(':').unwrap_or((t, t));
            let (a, b): (u32, u32) = (
                a.trim().parse().map_err(|_| bad())?,
                b.trim().parse().map_err(|_| bad())?,
            );
            if a > b || (a as usize) < crop {
                return Err(Error::InvalidArgument {
                    op: "--scale",
                    message: format!("need crop ({crop}) ≤ Smin ≤ Smax, got {a}:{b}"),
                });
            }
            Ok((a, b))
        }
    }
}

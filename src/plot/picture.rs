//! The picture: one panel per [`Panel`] that a chosen metric lives in, stacked on a
//! shared x-axis, drawn by plotters' SVG backend.
//!
//! Each panel's axes, each run's curve of each metric and each run's learning-rate
//! drops are drawn as layers: full-size SVGs of their own on the same frame, each in
//! a group that says what it holds (`class="series" data-run=… data-metric=…`), so
//! that the picture's content can be read from its elements.

use std::ops::Range;

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use super::curves::{Curve, RunCurves};
use super::metric::{Metric, Panel};
use super::series::XAxis;
use crate::error::{Error, Result};

const WIDTH: u32 = 1000;
const PANEL_HEIGHT: u32 = 320;
const TITLE_HEIGHT: u32 = 28;
const LEGEND_WIDTH: u32 = 250;
const FONT: &str = "sans-serif";

/// One colour per run (Tableau 10), in the order the runs were given.
const COLOURS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

type Chart<'a, 'b, Y> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, Y>>;
type Drawn = std::result::Result<(), DrawingAreaErrorKind<std::io::Error>>;

/// The SVG text of `runs` drawn on `axis`, with a panel for each panel of `metrics`.
pub fn draw(runs: &[RunCurves], metrics: &[Metric], axis: XAxis) -> Result<String> {
    let panels: Vec<Panel> = Panel::ALL
        .into_iter()
        .filter(|p| metrics.iter().any(|m| m.panel() == *p))
        .collect();
    let x_end = runs.iter().map(RunCurves::x_end).fold(0.0, f64::max);
    let picture = Picture {
        runs,
        axis,
        panels: panels.len(),
        x: 0.0..if x_end > 0.0 { x_end } else { 1.0 },
    };
    let height = PANEL_HEIGHT * panels.len() as u32;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    for (index, &panel) in panels.iter().enumerate() {
        svg += &picture.panel(index, panel)?;
    }
    svg += "</svg>\n";
    Ok(svg)
}

struct Picture<'a> {
    runs: &'a [RunCurves],
    axis: XAxis,
    panels: usize,
    x: Range<f64>,
}

/// What one layer of a panel draws.
enum Layer<'a> {
    Axes,
    Curve(usize, &'a Curve),
    LrDrops(usize),
}

impl Picture<'_> {
    /// The panel's group: its axes, then each run's curves and drops.
    fn panel(&self, index: usize, panel: Panel) -> Result<String> {
        let mut group = format!("<g class=\"panel\" id=\"{}\">\n", panel.id());
        group += &self.layer(index, panel, Layer::Axes, "class=\"axes\"")?;
        for (run_index, run) in self.runs.iter().enumerate() {
            let run_name = escaped(&run.name);
            for curve in run.curves.iter().filter(|c| c.metric.panel() == panel) {
                let what = format!(
                    "class=\"series\" data-run=\"{run_name}\" data-metric=\"{}\"",
                    curve.metric
                );
                group += &self.layer(index, panel, Layer::Curve(run_index, curve), &what)?;
            }
            if panel != Panel::Timing && !run.lr_drops.is_empty() {
                let what = format!("class=\"lr-drops\" data-run=\"{run_name}\"");
                group += &self.layer(index, panel, Layer::LrDrops(run_index), &what)?;
            }
        }
        group += "</g>\n";
        Ok(group)
    }

    /// A layer: the whole picture's frame, cut into panels the same way every time so
    /// that every layer of a panel maps values to the same pixels.
    fn layer(&self, index: usize, panel: Panel, layer: Layer, what: &str) -> Result<String> {
        let mut svg = String::new();
        let size = (WIDTH, PANEL_HEIGHT * self.panels as u32);
        {
            let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
            let area = root.split_evenly((self.panels, 1)).swap_remove(index);
            let (title, rest) = area.split_vertically(TITLE_HEIGHT);
            let (plot, legend) = rest.split_horizontally(WIDTH - LEGEND_WIDTH);
            if let Layer::Axes = layer {
                title.draw_text(panel.title(), &(FONT, 16).into_text_style(&title), (70, 8))?;
                self.legend(&legend, panel)?;
            }
            let y = self.y_range(panel);
            match panel {
                Panel::Loss => {
                    let ticks = log_ticks(&y);
                    self.chart(&plot, panel, y.log_scale().with_key_points(ticks), layer)?
                }
                Panel::Error | Panel::Timing => self.chart(&plot, panel, y, layer)?,
            }
            root.present()?;
        }
        Ok(format!("<g {what}>\n{svg}</g>\n"))
    }

    fn chart<Y>(
        &self,
        area: &DrawingArea<SVGBackend, Shift>,
        panel: Panel,
        y: Y,
        layer: Layer,
    ) -> Drawn
    where
        Y: AsRangedCoord<Value = f64>,
        Y::CoordDescType: ValueFormatter<f64>,
    {
        let mut chart = ChartBuilder::on(area)
            .margin_right(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(self.x.clone(), y)?;
        match layer {
            Layer::Axes => {
                let x_label = |x: &f64| self.x_label(*x);
                let y_label = |y: &f64| value_label(panel, *y);
                chart
                    .configure_mesh()
                    .x_desc(self.axis.label())
                    .x_label_formatter(&x_label)
                    .y_label_formatter(&y_label)
                    .max_light_lines(1)
                    .light_line_style(RGBColor(240, 240, 240))
                    .label_style((FONT, 12))
                    .draw()
            }
            Layer::Curve(run, curve) => draw_curve(&mut chart, COLOURS[run % COLOURS.len()], curve),
            Layer::LrDrops(run) => {
                let style = COLOURS[run % COLOURS.len()].mix(0.6).stroke_width(1);
                let (low, high) = (chart.y_range().start, chart.y_range().end);
                for &x in &self.runs[run].lr_drops {
                    chart.draw_series(DashedLineSeries::new([(x, low), (x, high)], 4, 4, style))?;
                }
                Ok(())
            }
        }
    }

    /// From the lowest to the highest value drawn in `panel`, with some room; errors
    /// and speeds from zero.
    fn y_range(&self, panel: Panel) -> Range<f64> {
        let values = self.runs.iter().flat_map(|run| run.values_in(panel));
        let (low, high) = values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
        match panel {
            Panel::Loss if low > high => 0.1..10.0,
            Panel::Loss => low / 1.2..(high * 1.2).max(low * 2.0),
            Panel::Error if high > 0.0 => 0.0..(high * 1.1).min(1.0),
            Panel::Timing if high > 0.0 => 0.0..high * 1.1,
            Panel::Error | Panel::Timing => 0.0..1.0,
        }
    }

    fn x_label(&self, x: f64) -> String {
        match self.axis {
            XAxis::Images => short_number(x),
            XAxis::Epochs => trimmed(format!("{x:.2}")),
        }
    }

    /// One entry per run and metric drawn in `panel`, then the drops' line.
    fn legend(&self, area: &DrawingArea<SVGBackend, Shift>, panel: Panel) -> Drawn {
        let mut entries: Vec<(String, ShapeStyle, bool)> = Vec::new();
        for (run_index, run) in self.runs.iter().enumerate() {
            let colour = COLOURS[run_index % COLOURS.len()];
            for curve in run.curves.iter().filter(|c| c.metric.panel() == panel) {
                let label = match run.name.is_empty() {
                    true => curve.metric.label().to_string(),
                    false => format!("{}: {}", run.name, curve.metric.label()),
                };
                entries.push((label, colour.stroke_width(2), curve.metric.dashed()));
            }
        }
        if panel != Panel::Timing && self.runs.iter().any(|run| !run.lr_drops.is_empty()) {
            let grey = RGBColor(120, 120, 120).stroke_width(1);
            entries.push(("learning rate ÷ 10".into(), grey, true));
        }
        for (i, (label, style, dashed)) in entries.into_iter().enumerate() {
            let y = 20 + 18 * i as i32;
            let line = [(8, y), (36, y)];
            match dashed {
                true => area.draw(&DashedPathElement::new(line, 5, 3, style))?,
                false => area.draw(&PathElement::new(line, style))?,
            }
            area.draw(&Text::new(label, (42, y - 7), (FONT, 13)))?;
        }
        Ok(())
    }
}

/// The faint raw values, then the line; per-epoch values marked with dots.
fn draw_curve<Y>(chart: &mut Chart<Y>, colour: RGBColor, curve: &Curve) -> Drawn
where
    Y: plotters::coord::ranged1d::Ranged<ValueType = f64>,
{
    let line = curve.line.iter().copied();
    chart.draw_series(LineSeries::new(curve.raw.iter().copied(), colour.mix(0.25)))?;
    match curve.metric.dashed() {
        true => chart.draw_series(DashedLineSeries::new(line, 6, 4, colour.stroke_width(2)))?,
        false => chart.draw_series(LineSeries::new(line, colour.stroke_width(2)))?,
    };
    if !curve.metric.per_step() {
        let dots = curve
            .line
            .iter()
            .map(|&p| Circle::new(p, 3, colour.filled()));
        chart.draw_series(dots)?;
    }
    Ok(())
}

/// Round values to label a log axis: 1, 2 and 5 times the powers of ten in `range`,
/// or every digit times them where that gives fewer than three.
fn log_ticks(range: &Range<f64>) -> Vec<f64> {
    let decades = range.start.log10().floor() as i32..=range.end.log10().ceil() as i32;
    let within = |digits: &[f64]| -> Vec<f64> {
        let powers = decades.clone().map(|p| 10f64.powi(p));
        powers
            .flat_map(|power| digits.iter().map(move |d| d * power))
            .filter(|v| range.contains(v))
            .collect()
    };
    let ticks = within(&[1.0, 2.0, 5.0]);
    match ticks.len() >= 3 {
        true => ticks,
        false => within(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]),
    }
}

fn value_label(panel: Panel, value: f64) -> String {
    match panel {
        // A tick of `log_ticks`: as many decimals as its first digit needs.
        Panel::Loss => format!("{value:.*}", (-value.log10().floor()).max(0.0) as usize),
        Panel::Error => format!("{:.0}%", 100.0 * value),
        Panel::Timing => short_number(value),
    }
}

/// 1500 → "1.5k", 2000000 → "2M".
fn short_number(value: f64) -> String {
    let (unit, suffix) = [(1e9, "G"), (1e6, "M"), (1e3, "k")]
        .into_iter()
        .find(|(unit, _)| value.abs() >= *unit)
        .unwrap_or((1.0, ""));
    trimmed(format!("{:.2}", value / unit)) + suffix
}

/// "1.50" → "1.5", "2.00" → "2".
fn trimmed(number: String) -> String {
    match number.contains('.') {
        true => number
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string(),
        false => number,
    }
}

/// Text for an attribute value.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl From<DrawingAreaErrorKind<std::io::Error>> for Error {
    fn from(e: DrawingAreaErrorKind<std::io::Error>) -> Error {
        Error::Plot {
            what: "the picture".into(),
            message: format!("cannot be drawn: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short() {
        assert_eq!(short_number(1500.0), "1.5k");
        assert_eq!(short_number(2e6), "2M");
        assert_eq!(short_number(0.0), "0");
        assert_eq!(value_label(Panel::Error, 0.25), "25%");
        assert_eq!(value_label(Panel::Loss, 2e-4), "0.0002");
        assert_eq!(value_label(Panel::Loss, 20.0), "20");
    }

    #[test]
    fn a_log_axis_is_labelled_at_round_values() {
        let labels = |range| -> Vec<String> {
            log_ticks(&range)
                .into_iter()
                .map(|v| value_label(Panel::Loss, v))
                .collect()
        };
        assert_eq!(labels(0.25..7.0), ["0.5", "1", "2", "5"]);
        assert_eq!(labels(1.6..3.8), ["2", "3"]);
    }
}

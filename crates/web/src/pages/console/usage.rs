//! The Client Details panel's Usage section: when the client last authenticated, and its
//! tokens per day as an inline SVG bar chart. The bars' geometry is computed here, as
//! attributes, because the CSP allows no inline style and no script; their colours come
//! from the console's stylesheet, so light and dark mode both read.

use thetasecure_core::usage::{ClientUsage, USAGE_WINDOW_DAYS};

use super::When;

/// The Usage section's chart: an inline SVG whose bars are sized here, since the CSP
/// allows no inline style or script, and a sentence that says what it shows.
pub struct UsageChart {
    pub last_authenticated: Option<When>,
    pub bars: Vec<UsageBar>,
    /// The first day's date; the last is today.
    pub first_day: String,
    pub summary: String,
}

/// One day's bar, in the chart's own units (`CHART_*`).
pub struct UsageBar {
    /// Where the day's slot starts: the whole slot shows the day's title on hover.
    pub slot_x: u32,
    pub x: u32,
    pub y: u32,
    pub height: u32,
    /// A day without tokens shows as a stub on the baseline, so every day is visible.
    pub zero: bool,
    /// Its `<title>`: the day and its count.
    pub label: String,
}

/// The chart's user units: one slot per day, the tallest bar the full height.
pub const CHART_SLOT: u32 = 10;
pub const CHART_BAR_WIDTH: u32 = 7;
pub const CHART_HEIGHT: u32 = 60;

impl UsageChart {
    pub fn new(usage: &ClientUsage) -> Self {
        let peak = usage
            .days
            .iter()
            .map(|d| d.tokens_issued)
            .max()
            .unwrap_or(0);
        let bars = (0_u32..)
            .zip(&usage.days)
            .map(|(index, day)| {
                let height = bar_height(day.tokens_issued, peak);
                UsageBar {
                    slot_x: index * CHART_SLOT,
                    x: index * CHART_SLOT + (CHART_SLOT - CHART_BAR_WIDTH) / 2,
                    y: CHART_HEIGHT - height,
                    height,
                    zero: day.tokens_issued == 0,
                    label: format!("{}: {}", day.day.to_iso_date(), tokens(day.tokens_issued)),
                }
            })
            .collect();
        let summary = match usage.busiest() {
            Some(busiest) => format!(
                "{} issued in the last {USAGE_WINDOW_DAYS} days (UTC), the most on {} ({}).",
                tokens(usage.total()),
                busiest.day.to_iso_date(),
                busiest.tokens_issued
            ),
            None => format!("No tokens issued in the last {USAGE_WINDOW_DAYS} days."),
        };
        Self {
            last_authenticated: usage.last_authenticated_at.map(When::of),
            bars,
            first_day: usage
                .days
                .first()
                .map(|d| d.day.to_iso_date())
                .unwrap_or_default(),
            summary,
        }
    }

    pub fn width(&self) -> u32 {
        u32::try_from(self.bars.len()).unwrap_or(0) * CHART_SLOT
    }

    pub fn height(&self) -> u32 {
        CHART_HEIGHT
    }

    pub fn slot(&self) -> u32 {
        CHART_SLOT
    }

    pub fn bar_width(&self) -> u32 {
        CHART_BAR_WIDTH
    }
}

/// In proportion to the busiest day; a day with any token gets at least a visible bar,
/// a day without a one-unit stub.
fn bar_height(tokens_issued: u64, peak: u64) -> u32 {
    if tokens_issued == 0 || peak == 0 {
        return 1;
    }
    let scaled = (u128::from(tokens_issued) * u128::from(CHART_HEIGHT)).div_ceil(u128::from(peak));
    u32::try_from(scaled)
        .unwrap_or(CHART_HEIGHT)
        .clamp(3, CHART_HEIGHT)
}

fn tokens(n: u64) -> String {
    match n {
        1 => "1 token".to_owned(),
        n => format!("{n} tokens"),
    }
}

#[cfg(test)]
mod tests {
    use thetasecure_core::usage::{DayUsage, UtcDay};

    use super::*;

    #[test]
    fn bars_are_sized_against_the_busiest_day_and_every_day_is_visible() {
        assert_eq!(bar_height(0, 0), 1);
        assert_eq!(bar_height(0, 50), 1);
        assert_eq!(bar_height(50, 50), CHART_HEIGHT);
        assert_eq!(bar_height(1, 1_000_000), 3, "a token shows");
        assert_eq!(bar_height(1, 3), 20);
        assert_eq!(bar_height(u64::MAX, u64::MAX), CHART_HEIGHT);

        let today = UtcDay(20_000);
        let usage = ClientUsage::over_window(
            today,
            [DayUsage {
                day: today,
                tokens_issued: 1,
            }],
            None,
        );
        let chart = UsageChart::new(&usage);
        assert_eq!(chart.bars.len(), USAGE_WINDOW_DAYS);
        assert_eq!(chart.width(), 300);
        let last = &chart.bars[USAGE_WINDOW_DAYS - 1];
        assert_eq!(
            (last.slot_x, last.x, last.y, last.height),
            (290, 291, 0, 60)
        );
        assert_eq!(last.label, format!("{}: 1 token", today.to_iso_date()));
        assert!(
            chart.bars[..USAGE_WINDOW_DAYS - 1]
                .iter()
                .all(|bar| bar.zero && bar.height == 1)
        );
        assert_eq!(
            chart.summary,
            format!(
                "1 token issued in the last 30 days (UTC), the most on {} (1).",
                today.to_iso_date()
            )
        );
        assert_eq!(chart.first_day, today.minus(29).to_iso_date());
    }
}

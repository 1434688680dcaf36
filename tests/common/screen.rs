//! Reading a terminal screen as text: the bordered boxes on it and which of them are
//! mostly empty. Shared by the snapshot tests (a `TestBackend` buffer) and the tmux tests
//! (`capture-pane`), so both judge a layout by the same rule.
#![allow(dead_code)]

/// Every bordered box on screen: (title row, its title text, interior rows).
pub fn boxes(rows: &[String]) -> Vec<(usize, String, Vec<String>)> {
    let grid: Vec<Vec<char>> = rows.iter().map(|r| r.chars().collect()).collect();
    let mut out = Vec::new();
    for (y, row) in grid.iter().enumerate() {
        for (x, &c) in row.iter().enumerate() {
            if c != '┌' {
                continue;
            }
            let Some(right) = (x + 1..row.len()).find(|&i| row[i] == '┐') else {
                continue;
            };
            let Some(bottom) = (y + 1..grid.len()).find(|&j| grid[j].get(x) == Some(&'└')) else {
                continue;
            };
            let title: String = row[x + 1..right].iter().collect();
            // A row shorter than the box (a wide character in a captured pane takes one
            // char for two columns) yields what it has, never a panic.
            let interior = (y + 1..bottom)
                .map(|j| {
                    let r = &grid[j];
                    r.get(x + 1..right.min(r.len()))
                        .unwrap_or_default()
                        .iter()
                        .collect()
                })
                .collect();
            out.push((y, title.trim_matches('─').trim().to_string(), interior));
        }
    }
    out
}

/// The boxes with more blank interior lines than lines with something on them, as
/// `title: blank of lines`.
pub fn mostly_empty(found: &[(usize, String, Vec<String>)]) -> Vec<String> {
    found
        .iter()
        .filter_map(|(_, title, interior)| {
            let blank = interior.iter().filter(|l| l.trim().is_empty()).count();
            (blank * 2 > interior.len()).then(|| {
                format!(
                    "panel {title:?} is mostly empty ({blank} of {} lines)",
                    interior.len()
                )
            })
        })
        .collect()
}

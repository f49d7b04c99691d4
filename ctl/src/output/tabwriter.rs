//! Go's `text/tabwriter` (what kubectl aligns with): tab-terminated cells, aligned per column
//! over each run of consecutive lines that have that column; the text after a line's last tab
//! is not aligned.

/// Aligns `text` with `minwidth` and `padding` (padding character: space).
pub fn format(text: &str, minwidth: usize, padding: usize) -> String {
    let lines: Vec<Vec<&str>> = text
        .split_inclusive('\n')
        .map(|l| l.strip_suffix('\n').unwrap_or(l).split('\t').collect())
        .collect();
    let ends_with_newline = text.ends_with('\n');
    let mut out = String::new();
    let mut widths = Vec::new();
    format_block(
        &lines,
        0,
        lines.len(),
        &mut widths,
        minwidth,
        padding,
        &mut out,
    );
    if !ends_with_newline && out.ends_with('\n') {
        out.pop();
    }
    out
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn write_lines(lines: &[Vec<&str>], from: usize, to: usize, widths: &[usize], out: &mut String) {
    for line in &lines[from..to] {
        for (j, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if j < widths.len() && j + 1 < line.len() {
                out.extend(std::iter::repeat_n(
                    ' ',
                    widths[j].saturating_sub(width(cell)),
                ));
            }
        }
        out.push('\n');
    }
}

fn format_block(
    lines: &[Vec<&str>],
    mut line0: usize,
    line1: usize,
    widths: &mut Vec<usize>,
    minwidth: usize,
    padding: usize,
    out: &mut String,
) {
    let column = widths.len();
    let mut this = line0;
    while this < line1 {
        if column + 1 >= lines[this].len() {
            this += 1;
            continue;
        }
        write_lines(lines, line0, this, widths, out);
        line0 = this;
        let mut w = minwidth;
        while this < line1 && column + 1 < lines[this].len() {
            w = w.max(width(lines[this][column]) + padding);
            this += 1;
        }
        widths.push(w);
        format_block(lines, line0, this, widths, minwidth, padding, out);
        widths.pop();
        line0 = this;
    }
    write_lines(lines, line0, line1, widths, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_align_separately() {
        let text = "Name:\tweb\nNamespace:\tdefault\nContainers:\n  nginx:\n    Image:\tnginx\n    Port:\t80/TCP\n";
        assert_eq!(
            format(text, 0, 2),
            "Name:       web\nNamespace:  default\nContainers:\n  nginx:\n    Image:  nginx\n    Port:   80/TCP\n"
        );
    }

    #[test]
    fn tables_like_get() {
        let text = "NAME\tREADY\tAGE\nweb\t1/1\t5m\n";
        assert_eq!(
            format(text, 6, 3),
            "NAME   READY   AGE\nweb    1/1     5m\n"
        );
    }
}

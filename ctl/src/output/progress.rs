//! Live progress for long waits (`rollout status`, `wait`, `drain`, `delete --wait`).
//!
//! Each distinct status line is printed once, as kubectl prints it, so logs and pipes read
//! the same as kubectl's output. On a terminal the line being waited on also gets a spinner
//! and the time spent so far, on stderr, cleared before the next line is printed.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Reports the state of one wait.
#[derive(Debug)]
pub struct StatusLine {
    spinner: Option<ProgressBar>,
    last: String,
}

impl StatusLine {
    /// A spinner when stdout and stderr are terminals; plain lines otherwise.
    pub fn new() -> Self {
        let spinner =
            (std::io::stdout().is_terminal() && std::io::stderr().is_terminal()).then(|| {
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
                    bar.set_style(style);
                }
                bar.enable_steady_tick(Duration::from_millis(100));
                bar
            });
        Self {
            spinner,
            last: String::new(),
        }
    }

    /// The current state: printed when it changed; the spinner shows it meanwhile.
    pub fn update(&mut self, line: &str) {
        if line == self.last {
            return;
        }
        self.line(line);
        line.clone_into(&mut self.last);
        if let Some(spinner) = &self.spinner {
            spinner.set_message(line.to_owned());
        }
    }

    /// What is being waited on, shown by the spinner only (kubectl prints nothing for it).
    pub fn spin(&self, message: &str) {
        if let Some(spinner) = &self.spinner {
            spinner.set_message(message.to_owned());
        }
    }

    /// The wait is over: the spinner goes and `line` (if any) is printed.
    pub fn finish(self, line: Option<&str>) {
        if let Some(spinner) = &self.spinner {
            spinner.finish_and_clear();
        }
        if let Some(line) = line {
            crate::cmd::out(&format!("{line}\n"));
        }
    }

    /// Prints a line above the spinner.
    fn line(&self, line: &str) {
        match &self.spinner {
            Some(spinner) => spinner.suspend(|| crate::cmd::out(&format!("{line}\n"))),
            None => crate::cmd::out(&format!("{line}\n")),
        }
    }
}

impl Default for StatusLine {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for StatusLine {
    fn drop(&mut self) {
        if let Some(spinner) = &self.spinner {
            spinner.finish_and_clear();
        }
    }
}

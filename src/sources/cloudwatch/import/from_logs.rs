//! The import from the performance logs: each window's events, a page at a time, with the
//! page token saved so an interrupted run resumes where it stopped.

use super::*;

impl Run<'_> {
    /// Day windows `[start, end]` from `from` to `to`, the saved one first.
    pub(super) fn import_logs(&mut self, from_ms: i64, to_ms: i64) -> Result<(), LogsError> {
        let mut windows: Vec<(i64, i64, Option<String>)> = Vec::new();
        let mut start = from_ms;
        if let Some(p) = self.state.pending.clone().filter(|p| p.end_ms <= to_ms) {
            windows.push((p.start_ms, p.end_ms, p.next_token));
            start = start.max(p.end_ms + 1);
        }
        while start <= to_ms {
            let end = (start - start.rem_euclid(DAY_MS) + DAY_MS - 1).min(to_ms);
            windows.push((start, end, None));
            start = end + 1;
        }
        let mut fold = SettingsFold::default();
        let count = windows.len();
        for (i, (start, end, token)) in windows.into_iter().enumerate() {
            let result = self.logs_window(start, end, token, &mut fold, (i + 1, count));
            // Whatever was read is kept, so settings learnt before a failure are saved too.
            if result.is_err() {
                std::mem::take(&mut fold).merge_into(&mut self.state.current);
                let _ = self.save();
            }
            result?;
        }
        fold.merge_into(&mut self.state.current);
        Ok(())
    }

    pub(super) fn logs_window(
        &mut self,
        start: i64,
        end: i64,
        mut token: Option<String>,
        fold: &mut SettingsFold,
        (n, of): (usize, usize),
    ) -> Result<(), LogsError> {
        let stored = |e: CloudwatchError| LogsError::Store(Box::new(e));
        self.state.pending = Some(PendingLogs { start_ms: start, end_ms: end, next_token: token.clone() });
        let mut buffer: Vec<Sample> = Vec::new();
        loop {
            let page = self.rt.block_on(logs::fetch_page(
                &self.clients,
                &self.calls,
                &self.settings.cluster,
                &self.settings.namespaces,
                (start, end),
                token.clone(),
            ));
            let page = match page {
                Ok(p) => p,
                Err(LogsError::StaleToken(_)) => {
                    // Tokens expire: read the window again from its start (the store drops repeats).
                    token = None;
                    continue;
                }
                Err(e) => {
                    self.flush_logs(&mut buffer, token.clone()).map_err(stored)?;
                    return Err(e);
                }
            };
            self.totals.skipped += page.skipped;
            self.totals.malformed += page.malformed;
            for ex in page.malformed_examples {
                if self.totals.malformed_examples.len() < 5 {
                    self.totals.malformed_examples.push(ex);
                }
            }
            for e in page.events {
                fold.add(&e);
                self.totals.note(&e.sample, e.resolution);
                buffer.push(e.sample);
            }
            token = page.next_token;
            self.show(&format!("logs window {n}/{of} ({} .. {})", format_timestamp(start), format_timestamp(end)));
            if token.is_none() {
                break;
            }
            if buffer.len() >= FLUSH_ROWS {
                self.flush_logs(&mut buffer, token.clone()).map_err(stored)?;
            }
        }
        self.flush_logs(&mut buffer, None).map_err(stored)?;
        self.state.pending = None;
        self.state.through_ms = Some(end);
        self.save().map_err(stored)
    }

    /// Stores the buffer, then records the token of the page after it.
    pub(super) fn flush_logs(&mut self, buffer: &mut Vec<Sample>, next: Option<String>) -> Result<(), CloudwatchError> {
        self.append(std::mem::take(buffer))?;
        if let Some(p) = self.state.pending.as_mut() {
            p.next_token = next;
        }
        self.save()
    }

    // -----------------------------------------------------------------------------------------
    // Metrics
}

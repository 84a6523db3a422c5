//! Rows of one window held until they are stored, and the thread that stores them while the
//! next window is fetched (see `Writer`).

use crate::domain::SampleRows;
use crate::sources::sink::{Appended, SampleSink, SinkError};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Holds a window's rows and stores them on a thread of its own.
///
/// Batches arrive pod by pod, each covering the whole window, while the store de-duplicates an
/// append against the day's parts whose time range meets it: appending each batch as it came
/// re-read the day's earlier parts again and again. So a window's rows are held here (in
/// columns, about 32 bytes a row) and stored as one append, on the writer thread, while the
/// next window is fetched: writing Parquet then costs little wall time. At most one window is
/// being stored while another fills. Jobs run in order, so a state saved after an append is
/// on disk only once that append is.
pub(super) struct Writer {
    cluster: String,
    filling: SampleRows,
    pods: Vec<(String, String)>,
    jobs: Option<mpsc::Sender<Job>>,
    done: mpsc::Receiver<Result<Done, SinkError>>,
    appends_in_flight: usize,
    spare: Option<SampleRows>,
    pub stored: Stored,
}

/// What the writer thread did.
#[derive(Debug, Default, Clone)]
pub(super) struct Stored {
    pub added: u64,
    pub duplicates: u64,
    /// Time spent writing (alongside fetching).
    pub time: Duration,
}

enum Job {
    Append(SampleRows),
    SaveState(String),
}

enum Done {
    Appended { rows: SampleRows, appended: Appended, took: Duration },
    Saved,
}

impl Writer {
    /// Starts the writer thread in `scope`; `state_name` names the import state it saves.
    pub(super) fn start<'scope>(
        scope: &'scope std::thread::Scope<'scope, '_>,
        sink: &'scope mut (dyn SampleSink + Send),
        state_name: String,
        cluster: String,
    ) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>();
        let (report, done) = mpsc::channel();
        scope.spawn(move || {
            for job in queue {
                let outcome = match job {
                    Job::Append(mut rows) => {
                        let started = Instant::now();
                        sink.append(&mut rows).map(|appended| {
                            rows.clear();
                            Done::Appended { rows, appended, took: started.elapsed() }
                        })
                    }
                    Job::SaveState(text) => sink.save_state(&state_name, &text).map(|()| Done::Saved),
                };
                // Jobs queued before the caller gave up (an interrupted import) still run: the
                // state saved after the last append is what a re-run resumes from.
                let failed = outcome.is_err();
                let _ = report.send(outcome);
                if failed {
                    break;
                }
            }
        });
        Self {
            cluster,
            filling: SampleRows::new(),
            pods: Vec::new(),
            jobs: Some(jobs),
            done,
            appends_in_flight: 0,
            spare: None,
            stored: Stored::default(),
        }
    }

    /// Rows held, not yet handed to the writer thread.
    pub(super) fn len(&self) -> usize {
        self.filling.len()
    }

    /// Adds a batch's rows (naming this import's cluster on its series) and its pods.
    pub(super) fn extend(&mut self, mut batch: SampleRows, pods: Vec<(String, String)>) {
        if !self.cluster.is_empty() {
            batch.set_cluster(&self.cluster);
        }
        self.filling.extend(batch);
        self.pods.extend(pods);
    }

    /// Hands the rows held to the writer thread (after the previous hand-over is stored) and
    /// returns the pods they cover.
    pub(super) fn flush(&mut self) -> Result<Vec<(String, String)>, SinkError> {
        if self.filling.is_empty() && self.pods.is_empty() {
            return Ok(Vec::new());
        }
        while self.appends_in_flight > 0 {
            if !self.wait_one()? {
                return Err(Box::new(Stopped));
            }
        }
        let next = self.spare.take().unwrap_or_default();
        let rows = std::mem::replace(&mut self.filling, next);
        self.send(Job::Append(rows))?;
        self.appends_in_flight += 1;
        Ok(std::mem::take(&mut self.pods))
    }

    /// Saves the import state once everything handed over before is stored.
    pub(super) fn save_state(&mut self, text: String) -> Result<(), SinkError> {
        self.send(Job::SaveState(text))
    }

    /// Waits for every job; the first failure, if any.
    pub(super) fn finish(mut self) -> Result<Stored, SinkError> {
        drop(self.jobs.take());
        while self.wait_one()? {}
        Ok(self.stored)
    }

    fn send(&mut self, job: Job) -> Result<(), SinkError> {
        let sent = self.jobs.as_ref().is_some_and(|jobs| jobs.send(job).is_ok());
        if sent {
            return Ok(());
        }
        // The thread stopped on a failure: that failure is what to report.
        while self.wait_one()? {}
        Err(Box::new(Stopped))
    }

    /// Takes the writer thread's next report: `false` once the thread has ended.
    fn wait_one(&mut self) -> Result<bool, SinkError> {
        match self.done.recv() {
            Ok(Ok(Done::Appended { rows, appended, took })) => {
                self.appends_in_flight -= 1;
                self.stored.added += appended.written;
                self.stored.duplicates += appended.duplicates;
                self.stored.time += took;
                self.spare = Some(rows);
                Ok(true)
            }
            Ok(Ok(Done::Saved)) => Ok(true),
            Ok(Err(e)) => Err(e),
            Err(mpsc::RecvError) => Ok(false),
        }
    }
}

/// The writer thread ended on a failure already reported.
#[derive(Debug, thiserror::Error)]
#[error("the store writer stopped")]
struct Stopped;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Sample;
    use crate::sources::php_fpm_exporter::PodFigures;
    use crate::sources::sink::WorkloadContainer;

    /// A sink that records what it was asked, in order, and fails appends when told to.
    #[derive(Default)]
    struct Recorder {
        log: Vec<String>,
        fail_append: bool,
    }

    impl SampleSink for Recorder {
        fn open(&mut self) -> Result<(), SinkError> {
            Ok(())
        }
        fn exists(&self) -> bool {
            true
        }
        fn append(&mut self, rows: &mut SampleRows) -> Result<Appended, SinkError> {
            if self.fail_append {
                return Err("disk full".into());
            }
            let pods: Vec<String> = rows.to_samples().iter().map(|s| format!("{}/{}", s.cluster, s.pod)).collect();
            self.log.push(format!("append {}", pods.join(",")));
            Ok(Appended { written: rows.len() as u64, duplicates: 0 })
        }
        fn load_state(&self, _: &str) -> Result<Option<String>, SinkError> {
            Ok(None)
        }
        fn save_state(&mut self, name: &str, json: &str) -> Result<(), SinkError> {
            self.log.push(format!("save {name} {json}"));
            Ok(())
        }
        fn remove_state(&mut self, _: &str) {}
        fn state_location(&self, name: &str) -> String {
            name.into()
        }
        fn record_php_fpm(
            &mut self,
            _: &str,
            _: &str,
            _: usize,
            _: Vec<(WorkloadContainer, PodFigures)>,
        ) -> Result<usize, SinkError> {
            Ok(0)
        }
        fn sync(&mut self) -> Result<(), SinkError> {
            Ok(())
        }
    }

    fn rows(pod: &str) -> SampleRows {
        let s = Sample { pod: pod.into(), container: "nginx".into(), timestamp_ms: 60_000, ..Default::default() };
        SampleRows::from_samples(&[s])
    }

    fn pods(pod: &str) -> Vec<(String, String)> {
        vec![("ns".into(), pod.into())]
    }

    #[test]
    fn appends_and_state_saves_are_done_in_order_with_the_cluster_named() {
        let mut sink = Recorder::default();
        let stored = std::thread::scope(|scope| {
            let mut w = Writer::start(scope, &mut sink, "s".into(), "eu".into());
            w.extend(rows("a"), pods("a"));
            w.extend(rows("b"), pods("b"));
            assert_eq!(w.len(), 2);
            assert_eq!(w.flush().unwrap(), [pods("a"), pods("b")].concat());
            w.save_state("1".into()).unwrap();
            w.extend(rows("c"), pods("c"));
            assert_eq!(w.flush().unwrap(), pods("c"));
            w.save_state("2".into()).unwrap();
            assert!(w.flush().unwrap().is_empty(), "nothing held: nothing to hand over");
            w.finish().unwrap()
        });
        assert_eq!(sink.log, ["append eu/a,eu/b", "save s 1", "append eu/c", "save s 2"]);
        assert_eq!(stored.added, 3);
    }

    #[test]
    fn a_failed_append_is_reported_and_no_state_after_it_is_saved() {
        let mut sink = Recorder { fail_append: true, ..Recorder::default() };
        let outcome = std::thread::scope(|scope| {
            let mut w = Writer::start(scope, &mut sink, "s".into(), String::new());
            w.extend(rows("a"), pods("a"));
            w.flush().unwrap();
            // Queued behind the failing append, never run; or refused, with the append's
            // failure, when the thread has already stopped (whichever call meets the failure
            // first reports it).
            let saved = w.save_state("after".into());
            w.extend(rows("b"), pods("b"));
            let second = w.flush().map(drop);
            saved.and(second).and_then(|()| w.finish().map(drop))
        });
        assert_eq!(outcome.unwrap_err().to_string(), "disk full");
        assert!(sink.log.is_empty(), "{:?}", sink.log);
    }
}

//! The import from the enhanced-observability metrics: time pages of every container's
//! metrics, stored page by page, and the node capacity beside them.

use super::*;

impl Run<'_> {
    pub(super) fn import_metrics(
        &mut self,
        from_ms: i64,
        until: i64,
        now: i64,
        first_run: bool,
    ) -> Result<(), CloudwatchError> {
        let cluster = self.settings.cluster.clone();
        let listed = self.rt.block_on(metrics::list_series(&self.clients, &self.calls, &cluster))?;
        let inventory = metrics::inventory(&listed, &cluster, &self.settings.namespaces);
        self.metrics_inventory = Some((inventory.duplicates, inventory.aggregated, inventory.containers.len()));
        if inventory.containers.is_empty() {
            if first_run {
                return Err(CloudwatchError::NoData(format!(
                    "no Container Insights data for cluster {cluster} in region {}: {}ListMetrics finds no container \
                     metrics (namespace {}, ClusterName={cluster}{}; container metrics \
                     need enhanced observability, and ListMetrics only lists metrics with data in the last two weeks)",
                    self.clients.region,
                    if self.settings.from == Mode::Auto {
                        format!(
                            "log group {} has no container events or does not exist, and ",
                            logs::log_group(&cluster)
                        )
                    } else {
                        String::new()
                    },
                    metrics::NAMESPACE,
                    if self.settings.namespaces.is_empty() {
                        String::new()
                    } else {
                        format!(", namespaces {}", self.settings.namespaces.join(", "))
                    }
                )));
            }
            return Ok(());
        }
        let mut impossible: BTreeMap<String, String> = BTreeMap::new();
        for (id, m) in &inventory.containers {
            let name = format!("{}/{}/{}", id.namespace, id.pod.as_deref().unwrap_or(&id.owner), id.container);
            match (metrics::cpu_route(m), metrics::memory_route(m)) {
                (Route::Missing, _) => {
                    impossible.insert(name, "no CPU series (neither % of limit with a limit, nor % of node)".into());
                }
                (_, Route::Missing) => {
                    impossible.insert(name, "no memory series (neither % of limit with a limit, nor % of node)".into());
                }
                _ => {}
            }
        }
        let bands = metrics::bands(from_ms, until, now);
        let last_band = bands.len().saturating_sub(1);
        let mut buffer: Vec<Sample> = Vec::new();
        let mut conversion = metrics::Conversion::default();
        let mut differing: Option<(f64, f64, f64, f64)> = None;
        for (bi, band) in bands.iter().enumerate() {
            let plan = |settings: bool| -> Vec<(metrics::ContainerId, Vec<Metric>)> {
                inventory
                    .containers
                    .iter()
                    .map(|(id, m)| (id.clone(), metrics::metrics_to_query(m, settings)))
                    .filter(|(_, q)| !q.is_empty())
                    .collect()
            };
            let settings_plan = plan(true);
            let usage_plan = plan(false);
            let needs_node = inventory
                .containers
                .values()
                .any(|m| metrics::cpu_route(m) == Route::Node || metrics::memory_route(m) == Route::Node);
            let widest = settings_plan.iter().map(|(_, q)| q.len()).sum::<usize>() + if needs_node { 4 } else { 0 };
            let pages = metrics::time_pages(
                *band,
                widest,
                self.settings.queries_per_call,
                self.settings.max_datapoints_per_call,
            );
            let page_count = pages.len();
            self.metrics_pages += page_count as u64;
            self.metrics_series_max = self.metrics_series_max.max(widest as u64);
            for (pi, page) in pages.into_iter().enumerate() {
                let last = bi == last_band && pi + 1 == page_count;
                let plan = if last { &settings_plan } else { &usage_plan };
                let batches = metrics::batches(plan, self.settings.queries_per_call, needs_node);
                self.metrics_batches += batches.len() as u64;
                let mut values: HashMap<Query, Points> = HashMap::new();
                for batch in &batches {
                    let fetched = self.rt.block_on(metrics::fetch_batch(
                        &self.clients,
                        &self.calls,
                        &cluster,
                        page,
                        band.period_s,
                        batch,
                    ));
                    let points = match fetched {
                        Ok(p) => p,
                        Err(e) => {
                            self.flush_metrics(&mut buffer, None)?;
                            return Err(CloudwatchError::MetricsInterrupted {
                                cluster,
                                at_ms: page.0,
                                period_s: band.period_s,
                                source: Box::new(e),
                            });
                        }
                    };
                    for (q, p) in batch.iter().zip(points) {
                        values.insert(q.clone(), p);
                    }
                    self.show(&format!("metrics page {}/{page_count} at {} s", pi + 1, band.period_s));
                }
                let capacity = node_capacity(&values);
                if let Some(&(_, lo, hi, mlo, mhi)) = capacity.differing.first() {
                    differing.get_or_insert((lo, hi, mlo, mhi));
                }
                let mut per_container: HashMap<metrics::ContainerId, HashMap<Metric, Points>> = HashMap::new();
                for (q, p) in values {
                    if let Query::Container(id, m) = q {
                        per_container.entry(id).or_default().insert(m, p);
                    }
                }
                for (id, vals) in &per_container {
                    let (samples, resolution) =
                        metrics::convert(id, &inventory.containers[id], vals, &capacity, &mut conversion);
                    for s in &samples {
                        self.totals.note(s, resolution);
                    }
                    buffer.extend(samples);
                }
                if last {
                    let list: Vec<_> = per_container.into_iter().collect();
                    merge_settings(&mut self.state.current, metrics::settings(&list));
                }
                if buffer.len() >= FLUSH_ROWS || last {
                    self.flush_metrics(&mut buffer, Some(page.1))?;
                } else {
                    self.pending_through = Some(page.1);
                }
            }
        }
        self.flush_metrics(&mut buffer, None)?;
        self.metrics_conversion = Some((conversion, differing, impossible));
        Ok(())
    }

    /// Stores the buffer; `through` (or the last page completed) becomes the resume point.
    pub(super) fn flush_metrics(
        &mut self,
        buffer: &mut Vec<Sample>,
        through: Option<i64>,
    ) -> Result<(), CloudwatchError> {
        self.append(std::mem::take(buffer))?;
        if let Some(t) = through.or(self.pending_through.take()) {
            self.state.through_ms = Some(t);
        }
        self.save()
    }
}

/// Node capacity from the cluster-wide Minimum/Maximum queries of a page.
fn node_capacity(values: &HashMap<Query, Points>) -> NodeCapacity {
    let empty = Points::new();
    let get = |i: usize| values.get(&Query::NodeCapacity(i)).unwrap_or(&empty);
    NodeCapacity::from_points(get(0), get(1), get(2), get(3))
}

//! Calls: ListMetrics for the inventory, GetMetricData for a batch of queries.

use super::{Metric, Points, Query, MAX_DATAPOINTS_PER_CALL, NAMESPACE, NODE_CAPACITY};
use crate::sources::cloudwatch::{ApiCalls, AwsError, Clients};
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    Dimension, DimensionFilter, Metric as CwMetric, MetricDataQuery, MetricStat, ScanBy, StatusCode,
};

/// Lists the container series of a cluster, one paginated ListMetrics per metric name.
pub(crate) async fn list_series(
    clients: &Clients,
    calls: &ApiCalls,
    cluster: &str,
) -> Result<Vec<(String, Vec<(String, String)>)>, AwsError> {
    let mut listed = Vec::new();
    for metric in Metric::ALL {
        let mut token: Option<String> = None;
        loop {
            ApiCalls::add(&calls.list_metrics, 1);
            let out = clients
                .cloudwatch
                .list_metrics()
                .namespace(NAMESPACE)
                .metric_name(metric.name())
                .dimensions(DimensionFilter::builder().name("ClusterName").value(cluster).build())
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| clients.cloudwatch_error(&e, "ListMetrics"))?;
            for m in out.metrics() {
                let dims = m
                    .dimensions()
                    .iter()
                    .map(|d| (d.name().unwrap_or("").to_string(), d.value().unwrap_or("").to_string()))
                    .collect();
                listed.push((m.metric_name().unwrap_or("").to_string(), dims));
            }
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
    }
    Ok(listed)
}

fn query_spec(q: &Query, id: String, cluster: &str, period_s: i64) -> MetricDataQuery {
    let (metric, stat) = match q {
        Query::Container(c, m) => {
            let metric = CwMetric::builder()
                .namespace(NAMESPACE)
                .metric_name(m.name())
                .set_dimensions(Some(c.dimensions(cluster)))
                .build();
            (metric, "Maximum")
        }
        Query::NodeCapacity(i) => {
            let (name, stat) = NODE_CAPACITY[*i];
            let metric = CwMetric::builder()
                .namespace(NAMESPACE)
                .metric_name(name)
                .dimensions(Dimension::builder().name("ClusterName").value(cluster).build())
                .build();
            (metric, stat)
        }
    };
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(MetricStat::builder().metric(metric).period(period_s as i32).stat(stat).build())
        .return_data(true)
        .build()
}

/// Runs one planned call over `[start, end)`, following NextToken, and returns each query's points.
pub(crate) async fn fetch_batch(
    clients: &Clients,
    calls: &ApiCalls,
    cluster: &str,
    (start_ms, end_ms): (i64, i64),
    period_s: i64,
    queries: &[Query],
) -> Result<Vec<Points>, AwsError> {
    let specs: Vec<MetricDataQuery> =
        queries.iter().enumerate().map(|(i, q)| query_spec(q, format!("q{i}"), cluster, period_s)).collect();
    let mut points = vec![Points::new(); queries.len()];
    let mut token: Option<String> = None;
    loop {
        ApiCalls::add(&calls.get_metric_data, 1);
        ApiCalls::add(&calls.metrics_requested, specs.len() as u64);
        if token.is_some() {
            ApiCalls::add(&calls.continuations, 1);
        }
        let out = clients
            .cloudwatch
            .get_metric_data()
            .start_time(DateTime::from_millis(start_ms))
            .end_time(DateTime::from_millis(end_ms))
            .scan_by(ScanBy::TimestampAscending)
            .max_datapoints(MAX_DATAPOINTS_PER_CALL as i32)
            .set_metric_data_queries(Some(specs.clone()))
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| clients.cloudwatch_error(&e, "GetMetricData"))?;
        for r in out.metric_data_results() {
            let Some(i) = r.id().and_then(|id| id.strip_prefix('q')).and_then(|n| n.parse::<usize>().ok()) else {
                continue;
            };
            match r.status_code() {
                Some(StatusCode::Forbidden) => {
                    return Err(AwsError::AccessDenied {
                        action: "cloudwatch:GetMetricData".into(),
                        region: clients.region.clone(),
                        message: messages(r),
                    })
                }
                Some(StatusCode::InternalError) => {
                    return Err(AwsError::Api {
                        operation: "GetMetricData".into(),
                        code: "InternalError".into(),
                        message: messages(r),
                    })
                }
                _ => {}
            }
            let Some(slot) = points.get_mut(i) else { continue };
            for (t, v) in r.timestamps().iter().zip(r.values()) {
                let ms = t.to_millis().unwrap_or(i64::MIN);
                if (start_ms..end_ms).contains(&ms) {
                    slot.insert(ms, *v);
                }
            }
            ApiCalls::add(&calls.datapoints, r.values().len() as u64);
        }
        match out.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(points)
}

fn messages(r: &aws_sdk_cloudwatch::types::MetricDataResult) -> String {
    let m: Vec<&str> = r.messages().iter().filter_map(|m| m.value()).collect();
    if m.is_empty() {
        format!("query {} was refused", r.id().unwrap_or("?"))
    } else {
        m.join("; ")
    }
}

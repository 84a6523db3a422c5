//! Payloads: the HTTP API's JSON envelope, matrices, vectors and series lists.

use super::Labels;
use serde::Deserialize;

/// Why an answer of the HTTP API could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PayloadError {
    /// Not JSON, or not the API's envelope.
    #[error("{0}")]
    BadJson(String),
    /// The envelope says success but its data has the wrong shape.
    #[error("{0}")]
    Malformed(String),
    /// `"status": "error"`: the server's `errorType` and message.
    #[error("{message}")]
    Api { kind: String, message: String },
}

#[derive(Deserialize)]
struct Envelope<T> {
    status: String,
    data: Option<T>,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct QueryData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

#[derive(Deserialize)]
struct MatrixSeries {
    metric: Labels,
    values: Vec<(f64, String)>,
}

#[derive(Deserialize)]
struct VectorSample {
    metric: Labels,
    value: (f64, String),
}

/// A series of a range query: its labels and (epoch ms, value) points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Labels,
    pub points: Vec<(i64, f64)>,
}

/// Unwraps the `{"status": ..., "data": ...}` envelope.
pub(super) fn envelope<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, PayloadError> {
    let env: Envelope<T> = serde_json::from_slice(body).map_err(|e| PayloadError::BadJson(bad_json(body, &e)))?;
    if env.status != "success" {
        return Err(PayloadError::Api {
            kind: env.error_type.unwrap_or_else(|| "unknown".into()),
            message: env.error.unwrap_or_else(|| format!("status {:?} without an error message", env.status)),
        });
    }
    env.data.ok_or_else(|| PayloadError::Malformed("`data` missing from a successful response".into()))
}

fn bad_json(body: &[u8], e: &serde_json::Error) -> String {
    let head: String =
        String::from_utf8_lossy(&body[..body.len().min(120)]).chars().filter(|c| !c.is_control()).collect();
    format!("not a Prometheus API response ({e}); body starts with {head:?}")
}

fn parse_value(text: &str) -> Result<f64, String> {
    // Prometheus writes NaN, +Inf and -Inf as such; Rust parses all three.
    text.parse::<f64>().map_err(|_| format!("sample value {text:?} is not a number"))
}

fn seconds_to_ms(t: f64) -> i64 {
    (t * 1000.0).round() as i64
}

/// Parses a `query_range` response (`resultType` `matrix`).
pub(crate) fn parse_matrix(body: &[u8]) -> Result<Vec<Series>, PayloadError> {
    let data: QueryData = envelope(body)?;
    if data.result_type != "matrix" {
        return Err(PayloadError::Malformed(format!("expected a matrix, got resultType {:?}", data.result_type)));
    }
    let raw: Vec<MatrixSeries> =
        serde_json::from_value(data.result).map_err(|e| PayloadError::Malformed(format!("malformed matrix: {e}")))?;
    raw.into_iter()
        .map(|s| {
            let points = s
                .values
                .iter()
                .map(|(t, v)| Ok((seconds_to_ms(*t), parse_value(v)?)))
                .collect::<Result<Vec<_>, String>>()
                .map_err(PayloadError::Malformed)?;
            Ok(Series { labels: s.metric, points })
        })
        .collect()
}

/// Parses an instant `query` response (`resultType` `vector`).
pub(crate) fn parse_vector(body: &[u8]) -> Result<Vec<(Labels, f64)>, PayloadError> {
    let data: QueryData = envelope(body)?;
    if data.result_type != "vector" {
        return Err(PayloadError::Malformed(format!("expected a vector, got resultType {:?}", data.result_type)));
    }
    let raw: Vec<VectorSample> =
        serde_json::from_value(data.result).map_err(|e| PayloadError::Malformed(format!("malformed vector: {e}")))?;
    raw.into_iter().map(|s| Ok((s.metric, parse_value(&s.value.1).map_err(PayloadError::Malformed)?))).collect()
}

/// Parses a `/api/v1/series` response.
pub(crate) fn parse_series(body: &[u8]) -> Result<Vec<Labels>, PayloadError> {
    envelope(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_matrix_vector_series_and_errors() {
        let body = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"namespace":"ns","pod":"p","container":"c"},"values":[[1700000060,"0.25"],[1700000120.5,"NaN"]]}]}}"#;
        let m = parse_matrix(body).unwrap();
        assert_eq!(m[0].points[0], (1_700_000_060_000, 0.25));
        assert_eq!(m[0].points[1].0, 1_700_000_120_500);
        assert!(m[0].points[1].1.is_nan());
        let v = parse_vector(
            br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"b"},"value":[1,"2"]}]}}"#,
        )
        .unwrap();
        assert_eq!(v[0].1, 2.0);
        let s = parse_series(br#"{"status":"success","data":[{"__name__":"x","pod":"p"}]}"#).unwrap();
        assert_eq!(s[0]["pod"], "p");
        let err =
            parse_matrix(br#"{"status":"error","errorType":"bad_data","error":"parse error at char 3"}"#).unwrap_err();
        assert_eq!(err, PayloadError::Api { kind: "bad_data".into(), message: "parse error at char 3".into() });
        assert!(matches!(parse_matrix(b"<html>502</html>").unwrap_err(), PayloadError::BadJson(_)));
        let not_matrix =
            parse_matrix(br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#).unwrap_err();
        assert!(matches!(&not_matrix, PayloadError::Malformed(m) if m.contains("matrix")), "{not_matrix:?}");
        let bad_value =
            br#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"x1"]]}]}}"#;
        assert!(parse_matrix(bad_value).unwrap_err().to_string().contains("x1"));
    }
}

//! `podsizer backtest` and `podsizer backtest-suite`.

use crate::analysis::backtest::FoldLayout;
use crate::cli::args::{BacktestArgs, BacktestFormat, SuiteArgs};
use crate::cli::resolve;
use crate::engine::sizing::load_policy;
use crate::engine::suite::{self, BacktestSettings};
use crate::outputs::backtest as render;
use crate::outputs::kustomize::Kubectl;
use anyhow::{Context, Result};
use std::io::Write;

pub(crate) fn run(args: &BacktestArgs, kubectl: &Kubectl, out: &mut dyn Write) -> Result<u8> {
    let policy = load_policy(args.policy.as_deref())?;
    let fold_layout = FoldLayout {
        train_ms: args.train.ms,
        holdout_ms: args.holdout.ms,
        split_at: args.split_at.as_ref().map(|t| t.ms),
        folds: args.folds,
    };
    let prices = args.prices.prices()?;
    let settings = BacktestSettings {
        strategies: args.strategy.clone(),
        policy,
        fold_layout,
        holdout_text: args.holdout.to_string(),
        prices,
        overlay: args.kustomize.clone(),
        live: resolve::live(&args.input),
        nodes: args.nodes.clone(),
        kubectl: kubectl.clone(),
    };
    let run = suite::run(resolve::selection(&args.input, None)?, &settings)?;
    resolve::print_notes(&run.notes);
    let text = match args.output {
        BacktestFormat::Table => render::table(&run.result, args.per_container),
        BacktestFormat::Json => render::json(&run.result, &prices),
        BacktestFormat::Csv => render::csv(&run.result),
    };
    out.write_all(text.as_bytes())?;
    Ok(0)
}

pub(crate) fn run_suite(args: &SuiteArgs, out: &mut dyn Write) -> Result<u8> {
    let policies = load_policy(args.policy.as_deref())?;
    let mut print = |note| resolve::print_notes(&[note]);
    let entries = suite::suite(args.traces.as_deref(), &args.families, &policies, &args.nodes, &mut print)?;
    let markdown = suite::suite_markdown(&entries);
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    crate::store::atomic::write_atomically(&args.out, markdown.as_bytes())
        .with_context(|| format!("writing {}", args.out.display()))?;
    out.write_all(markdown.as_bytes())?;
    let all_met = entries.iter().filter(|e| e.goals).all(|e| suite::goals(e).iter().all(|(_, ok)| *ok));
    Ok(u8::from(!all_met))
}

//! A bounded HTTP load generator for `snakebox serve`, on loopback.
//!
//! ```sh
//! cargo run --release -p snakebox-cli --example serve_load -- \
//!     --address 127.0.0.1:8000 --function add --body '[2, 40]' \
//!     --concurrency 16 --requests 5000 --seconds 20 \
//!     --hostile 'spin=[]' --hostile-percent 1
//! ```
//!
//! Each of `--concurrency` clients holds one keep-alive connection and sends
//! requests one after another, until `--requests` have been sent or
//! `--seconds` have passed. With `--hostile-percent P`, P % of the requests
//! (spread evenly) call the `--hostile` functions in turn instead, each on a
//! connection of its own, beside the clients: a hostile request that takes
//! its time limit to answer holds up no healthy client, so the healthy
//! throughput measures the server, not the load generator's wait. Healthy
//! requests count as successes only with status 200; the healthy rate is
//! theirs over the time the clients ran.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

struct Options {
    address: String,
    function: String,
    body: String,
    concurrency: usize,
    requests: usize,
    seconds: f64,
    hostile: Vec<(String, String)>,
    hostile_percent: f64,
}

fn options() -> anyhow::Result<Options> {
    let mut options = Options {
        address: "127.0.0.1:8000".into(),
        function: "add".into(),
        body: "[2, 40]".into(),
        concurrency: 16,
        requests: 2000,
        seconds: 20.0,
        hostile: Vec::new(),
        hostile_percent: 0.0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--address" => options.address = value()?,
            "--function" => options.function = value()?,
            "--body" => options.body = value()?,
            "--concurrency" => options.concurrency = value()?.parse()?,
            "--requests" => options.requests = value()?.parse()?,
            "--seconds" => options.seconds = value()?.parse()?,
            "--hostile" => {
                let spec = value()?;
                let (function, body) = spec
                    .split_once('=')
                    .with_context(|| format!("--hostile `{spec}` must be FUNCTION=JSON"))?;
                options.hostile.push((function.to_owned(), body.to_owned()));
            }
            "--hostile-percent" => options.hostile_percent = value()?.parse()?,
            other => bail!("unknown flag `{other}`"),
        }
    }
    if !options.address.starts_with("127.") && !options.address.starts_with("localhost") {
        bail!("the load generator only targets loopback addresses");
    }
    if options.hostile_percent > 0.0 && options.hostile.is_empty() {
        bail!("--hostile-percent needs at least one --hostile FUNCTION=JSON");
    }
    Ok(options)
}

/// One finished request.
struct Sample {
    hostile: bool,
    status: u16,
    latency: Duration,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Arc::new(options()?);
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(options.seconds);
    let started = Instant::now();
    let clients: Vec<_> = (0..options.concurrency.max(1))
        .map(|_| {
            let options = Arc::clone(&options);
            let next = Arc::clone(&next);
            tokio::spawn(async move { client(&options, &next, deadline).await })
        })
        .collect();
    let mut samples = Vec::new();
    let mut hostile = Vec::new();
    for client in clients {
        let (healthy, sent) = client.await??;
        samples.extend(healthy);
        hostile.extend(sent);
    }
    let healthy_elapsed = started.elapsed();
    for request in hostile {
        samples.push(request.await?);
    }
    report(&options, &samples, healthy_elapsed, started.elapsed());
    Ok(())
}

/// Which requests are hostile: every `1 / percent`-th, spread evenly.
fn is_hostile(index: usize, percent: f64) -> bool {
    if percent <= 0.0 {
        return false;
    }
    let every = (100.0 / percent).round().max(1.0) as usize;
    index % every == every / 2
}

/// A client's healthy requests, and the hostile requests it sent beside it.
type Sent = (Vec<Sample>, Vec<tokio::task::JoinHandle<Sample>>);

async fn client(
    options: &Arc<Options>,
    next: &AtomicUsize,
    deadline: Instant,
) -> anyhow::Result<Sent> {
    let mut samples = Vec::new();
    let mut hostile = Vec::new();
    let mut connection = None;
    loop {
        let index = next.fetch_add(1, Ordering::Relaxed);
        if index >= options.requests || Instant::now() >= deadline {
            return Ok((samples, hostile));
        }
        if is_hostile(index, options.hostile_percent) {
            let every = (100.0 / options.hostile_percent).round().max(1.0) as usize;
            let which = (index / every) % options.hostile.len();
            let options = Arc::clone(options);
            hostile.push(tokio::spawn(async move {
                let (function, body) = &options.hostile[which];
                let started = Instant::now();
                let status = match TcpStream::connect(&options.address).await {
                    Ok(stream) => send(BufReader::new(stream), &options.address, function, body)
                        .await
                        .map_or(0, |(status, _)| status),
                    Err(_) => 0,
                };
                Sample {
                    hostile: true,
                    status,
                    latency: started.elapsed(),
                }
            }));
            continue;
        }
        let (function, body) = (options.function.as_str(), options.body.as_str());
        let started = Instant::now();
        let stream = match connection.take() {
            Some(stream) => stream,
            None => BufReader::new(
                TcpStream::connect(&options.address)
                    .await
                    .with_context(|| format!("failed to connect to {}", options.address))?,
            ),
        };
        // A broken connection counts as status 0, and the next request reconnects.
        let (status, stream) = send(stream, &options.address, function, body)
            .await
            .unwrap_or_default();
        connection = stream;
        samples.push(Sample {
            hostile: false,
            status,
            latency: started.elapsed(),
        });
    }
}

/// Sends one request and reads its reply; gives the connection back when
/// the server keeps it open.
async fn send(
    mut stream: BufReader<TcpStream>,
    address: &str,
    function: &str,
    body: &str,
) -> anyhow::Result<(u16, Option<BufReader<TcpStream>>)> {
    let request = format!(
        "POST /call/{function} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.get_mut().write_all(request.as_bytes()).await?;
    let mut line = String::new();
    stream.read_line(&mut line).await?;
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {line:?}"))?;
    let mut length = 0;
    let mut close = false;
    loop {
        line.clear();
        stream.read_line(&mut line).await?;
        let header = line.trim_end().to_ascii_lowercase();
        if header.is_empty() {
            break;
        }
        if let Some(value) = header.strip_prefix("content-length:") {
            length = value.trim().parse()?;
        }
        if header == "connection: close" {
            close = true;
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await?;
    Ok((status, (!close).then_some(stream)))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// How many samples have each status.
fn count_statuses<'a>(
    samples: impl Iterator<Item = &'a Sample>,
) -> std::collections::BTreeMap<u16, usize> {
    let mut statuses = std::collections::BTreeMap::new();
    for sample in samples {
        *statuses.entry(sample.status).or_insert(0) += 1;
    }
    statuses
}

/// `healthy_elapsed` is how long the clients ran; `elapsed` also covers the
/// hostile requests still answering after them.
fn report(options: &Options, samples: &[Sample], healthy_elapsed: Duration, elapsed: Duration) {
    let mut healthy: Vec<Duration> = samples
        .iter()
        .filter(|s| !s.hostile)
        .map(|s| s.latency)
        .collect();
    healthy.sort();
    let healthy_ok = samples
        .iter()
        .filter(|s| !s.hostile && s.status == 200)
        .count();
    let hostile: Vec<&Sample> = samples.iter().filter(|s| s.hostile).collect();
    let statuses = count_statuses(hostile.iter().copied());
    let failed = count_statuses(samples.iter().filter(|s| !s.hostile && s.status != 200));
    let seconds = elapsed.as_secs_f64();
    let healthy_seconds = healthy_elapsed.as_secs_f64();
    println!(
        "{} requests in {seconds:.2} s = {:.0} req/s; healthy {healthy_ok}/{} ok ({:.2} %, failed {failed:?}) in {healthy_seconds:.2} s = {:.0} req/s, p50 {:.1} ms, p99 {:.1} ms; hostile {} beside the clients (statuses {statuses:?}); concurrency {}",
        samples.len(),
        samples.len() as f64 / seconds,
        healthy.len(),
        100.0 * healthy_ok as f64 / healthy.len().max(1) as f64,
        healthy_ok as f64 / healthy_seconds,
        percentile(&healthy, 50.0).as_secs_f64() * 1000.0,
        percentile(&healthy, 99.0).as_secs_f64() * 1000.0,
        hostile.len(),
        options.concurrency,
    );
}

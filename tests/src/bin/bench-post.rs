//! What one `PostToConnection` costs the poster: N posts to a minimal loopback server that
//! answers 200, through `aws-sdk-apigatewaymanagement` (defaults, and without retries and the
//! stall check), through the functions' `SignedPusher` (SigV4 + hyper), and through a bare HTTP
//! client that does not sign. The fan-out's budget on a shared machine is this
//! cost times the recipients. Run: `cargo build --profile perf -p tests --bins &&
//! target/perf/bench-post [posts]`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark aborts on any failure

use std::time::{Duration, Instant};

use aws_sdk_apigatewaymanagement::config::StalledStreamProtectionConfig;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use aws_smithy_types::retry::RetryConfig;
use futures::StreamExt;

fn cpu_time() -> Duration {
    tests::bench::process_cpu(std::process::id())
}

async fn measure<F, Fut>(name: &str, posts: usize, post: F)
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    let (wall, cpu) = (Instant::now(), cpu_time());
    futures::stream::iter(0..posts)
        .map(&post)
        .buffer_unordered(64)
        .collect::<Vec<()>>()
        .await;
    let (wall, cpu) = (wall.elapsed(), cpu_time() - cpu);
    #[allow(clippy::cast_precision_loss)]
    let per = |d: Duration| d.as_secs_f64() * 1e6 / posts as f64;
    println!(
        "{name:<58} {:>7.1} µs wall/post {:>7.1} µs CPU/post (server included)",
        per(wall),
        per(cpu)
    );
}

/// Post `i` through the functions' pusher.
fn post_signed(
    signed: auction_aws::push::SignedPusher,
) -> impl Fn(usize) -> std::pin::Pin<Box<dyn Future<Output = ()>>> {
    move |i| {
        let signed = signed.clone();
        Box::pin(async move {
            use auction_core::ports::Pusher;
            signed
                .post(
                    &format!("conn{i}="),
                    "{\"type\":\"PriceUpdated\",\"data\":{}}",
                )
                .await
                .unwrap();
        })
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let posts: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/@connections/{id}",
        axum::routing::post(|| async { axum::http::StatusCode::OK }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let sdk = local::local_sdk_config(&base);
    let default = aws_sdk_apigatewaymanagement::Client::new(&sdk);
    let lean = aws_sdk_apigatewaymanagement::Client::from_conf(
        aws_sdk_apigatewaymanagement::config::Builder::from(&sdk)
            .retry_config(RetryConfig::disabled())
            .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
            .build(),
    );
    let post_with = |client: aws_sdk_apigatewaymanagement::Client| {
        move |i: usize| {
            let client = client.clone();
            async move {
                client
                    .post_to_connection()
                    .connection_id(format!("conn{i}="))
                    .data(Blob::new(&b"{\"type\":\"PriceUpdated\",\"data\":{}}"[..]))
                    .send()
                    .await
                    .unwrap();
            }
        }
    };
    for _ in 0..2 {
        measure(
            "aws-sdk-apigatewaymanagement (defaults)",
            posts,
            post_with(default.clone()),
        )
        .await;
        measure(
            "aws-sdk-apigatewaymanagement (no retries, no stall check)",
            posts,
            post_with(lean.clone()),
        )
        .await;
        let signed = auction_aws::push::SignedPusher::new(&sdk, &base).unwrap();
        measure(
            "auction_aws::push::SignedPusher (SigV4 + hyper)",
            posts,
            post_signed(signed),
        )
        .await;
        let signed_h2 =
            auction_aws::push::SignedPusher::with_http2_prior_knowledge(&sdk, &base).unwrap();
        measure(
            "auction_aws::push::SignedPusher over HTTP/2 (auction-local's)",
            posts,
            post_signed(signed_h2),
        )
        .await;
        let http: hyper_util::client::legacy::Client<_, http_body_util::Full<bytes::Bytes>> =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http();
        measure("bare hyper client", posts, |i| {
            let http = http.clone();
            let url = format!("{base}/@connections/conn{i}%3D");
            async move {
                let request = http::Request::post(url)
                    .body(http_body_util::Full::new(bytes::Bytes::from_static(
                        b"{\"type\":\"PriceUpdated\",\"data\":{}}",
                    )))
                    .unwrap();
                assert!(http.request(request).await.unwrap().status().is_success());
            }
        })
        .await;
    }
}

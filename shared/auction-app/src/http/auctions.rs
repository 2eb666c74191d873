//! `POST /api/auctions`, `GET /api/auctions`, `GET /api/auctions/{id}` (the polling fallback)
//! and `DELETE /api/auctions/{id}`.

use auction_core::domain::{AuctionStatus, CreateAuctionRequest};
use auction_core::services::{CancelError, CreateError, ReadError};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::problem::Problem;
use super::{HttpDeps, auction_id, caller, json_body, signed_in};

pub(super) async fn create(
    State(deps): State<HttpDeps>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let identity = signed_in(&deps, &headers).await?;
    let request: CreateAuctionRequest = json_body(&body)?;
    match deps.catalog.create(&identity, &request).await {
        Ok(snapshot) => Ok((StatusCode::CREATED, Json(snapshot)).into_response()),
        Err(CreateError::SignInRequired) => {
            Err(Problem::unauthorized("a bearer token is required"))
        }
        Err(CreateError::NotSeller) => Err(Problem::forbidden("only sellers may create auctions")),
        Err(CreateError::Invalid(errors)) => {
            let detail = errors
                .iter()
                .map(|e| e.message.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            Err(Problem::bad_request(detail))
        }
        Err(CreateError::AlreadyExists) => Err(Problem::conflict("the auction exists already")),
        Err(e @ CreateError::TooManyLiveAuctions(_)) => Err(Problem::new(
            StatusCode::CONFLICT,
            "TooManyLiveAuctions",
            e.to_string(),
        )),
        Err(CreateError::RateLimited {
            retry_after_seconds,
        }) => Err(Problem::rate_limited(
            "too many auctions created; retry later",
            retry_after_seconds,
        )),
        Err(CreateError::Store(e)) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    status: Option<String>,
}

pub(super) async fn list(
    State(deps): State<HttpDeps>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Response, Problem> {
    let identity = caller(&deps, &headers).await?;
    let status = match query.status.as_deref().unwrap_or("Active") {
        "Active" => AuctionStatus::Active,
        "Scheduled" => AuctionStatus::Scheduled,
        "Ended" => AuctionStatus::Ended,
        _ => {
            return Err(Problem::bad_request(
                "status must be Active, Scheduled or Ended",
            ));
        }
    };
    let items = deps.catalog.list(&identity, status).await?;
    Ok(Json(json!({ "items": items })).into_response())
}

pub(super) async fn get(
    State(deps): State<HttpDeps>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let identity = caller(&deps, &headers).await?;
    let id = auction_id(&id)?;
    match deps.catalog.get(&identity, &id).await {
        Ok(snapshot) => Ok(Json(snapshot).into_response()),
        Err(ReadError::NotFound) => Err(Problem::auction_not_found()),
        Err(ReadError::Store(e)) => Err(e.into()),
    }
}

pub(super) async fn cancel(
    State(deps): State<HttpDeps>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let identity = signed_in(&deps, &headers).await?;
    let id = auction_id(&id)?;
    match deps.catalog.cancel(&identity, &id).await {
        Ok(snapshot) => Ok(Json(snapshot).into_response()),
        Err(CancelError::SignInRequired) => {
            Err(Problem::unauthorized("a bearer token is required"))
        }
        Err(CancelError::NotFound) => Err(Problem::auction_not_found()),
        Err(CancelError::NotSeller) => Err(Problem::forbidden(
            "only the seller who created the auction may cancel it",
        )),
        Err(CancelError::AlreadyEnded) => Err(Problem::conflict("the auction has already ended")),
        Err(CancelError::Store(e)) => Err(e.into()),
    }
}

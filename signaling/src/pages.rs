//! The built-in publish and watch pages, compiled into the binary.

use bytes::Bytes;
use hyper::StatusCode;

use crate::api::reply::{Reply, with_body};
use crate::api::route::Page;

const PUBLISH: &str = include_str!("../pages/publish.html");
const WATCH: &str = include_str!("../pages/watch.html");

pub fn serve(page: Page) -> Reply {
    let html = match page {
        Page::Publish => PUBLISH,
        Page::Watch => WATCH,
    };
    with_body(
        StatusCode::OK,
        "text/html; charset=utf-8",
        Bytes::from_static(html.as_bytes()),
    )
}

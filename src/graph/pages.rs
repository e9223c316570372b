//! A listing that ends. Graph pages a collection with `@odata.nextLink`; a
//! server (or a proxy, or a bug) that hands back a link already followed would
//! be followed for ever, thousands of requests a minute. Every paging loop
//! keeps the links it followed and ends with an error on the first repeat, or
//! when it has fetched more pages than the listing announced (`@odata.count`
//! over the first page's size) plus a margin.

use std::collections::HashSet;

use url::Url;

use super::error::{GraphError, Reason, Result};

/// Pages beyond the announced number a listing may still take (devices added
/// while it runs): this many, or a tenth of the announced pages if more.
const MARGIN: u64 = 10;

/// The links one listing has followed.
#[derive(Debug)]
pub(crate) struct Follow {
    seen: HashSet<String>,
    pages: u64,
    /// The pages the listing announced (`@odata.count` over the first page's size).
    announced: Option<u64>,
}

impl Follow {
    /// A listing starting at `first`.
    pub(crate) fn new(first: &Url) -> Follow {
        Follow { seen: HashSet::from([first.as_str().to_string()]), pages: 0, announced: None }
    }

    /// Counts a fetched page; the first one's `@odata.count` (when Graph sent
    /// it) and size set how many pages the listing may take.
    pub(crate) fn page(&mut self, count: Option<u64>, items: usize) {
        self.pages += 1;
        if self.pages == 1
            && let Some(n) = count
        {
            self.announced = Some(n.div_ceil((items as u64).max(1)).max(1));
        }
    }

    /// `Ok` when `next` may be fetched; an error when the listing loops.
    pub(crate) fn next(&mut self, next: &Url) -> Result<()> {
        if !self.seen.insert(next.as_str().to_string()) {
            return Err(GraphError::new(
                Reason::BadJson,
                format!(
                    "@odata.nextLink {next} was already followed in this listing (after {} \
                     page(s)): the paging loops; the listing is ended",
                    self.pages
                ),
            )
            .with_url("GET", next.as_str()));
        }
        if let Some(announced) = self.announced
            && self.pages >= announced + MARGIN.max(announced / 10)
        {
            return Err(GraphError::new(
                Reason::BadJson,
                format!(
                    "the listing announced about {} page(s) (@odata.count) and has taken {}: \
                     the paging does not end; the listing is ended",
                    announced, self.pages
                ),
            )
            .with_url("GET", next.as_str()));
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn a_repeated_link_or_too_many_pages_ends_the_listing() {
        let first = url("https://graph.microsoft.com/v1.0/devices");
        let mut f = Follow::new(&first);
        f.page(None, 100);
        let two = url("https://graph.microsoft.com/v1.0/devices?$skiptoken=2");
        f.next(&two).unwrap();
        f.page(None, 100);
        let e = f.next(&two).unwrap_err();
        assert!(e.message().contains("already followed"), "{e}");
        assert!(Follow::new(&first).next(&first).is_err(), "a page linking to itself");

        // 250 devices in pages of 100: 3 pages announced, 10 more allowed.
        let mut f = Follow::new(&first);
        f.page(Some(250), 100);
        for n in 2..=13 {
            f.next(&url(&format!("{first}?$skiptoken={n}"))).unwrap();
            f.page(None, 100);
        }
        let e = f.next(&url(&format!("{first}?$skiptoken=14"))).unwrap_err();
        assert!(e.message().contains("does not end"), "{e}");
    }
}

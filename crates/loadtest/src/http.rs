//! A small HTTP/1.1 client: a fixed set of keep-alive connections (hyper's
//! connection-level API, no pool bookkeeping), spread over replicas and source
//! addresses, sharing one queue of requests. Requests wait in the queue when every
//! connection is busy, and that wait counts in their latency.

use std::{net::IpAddr, sync::Arc, time::Duration};

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, client::conn::http1::SendRequest, header};
use hyper_util::rt::TokioIo;
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::net::{self, Endpoint, Spread};

/// A response: status and the whole body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Bytes,
}

struct Job {
    method: Method,
    path: &'static str,
    body: Bytes,
    reply: oneshot::Sender<anyhow::Result<Reply>>,
}

/// The queue in front of the connections; cheap to clone.
#[derive(Clone)]
pub struct HttpPool {
    tx: mpsc::UnboundedSender<Job>,
}

impl HttpPool {
    /// Opens `connections` connections (all of them, before returning).
    pub async fn open(
        spread: &Spread,
        connections: usize,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let (tx, rx) = mpsc::unbounded_channel();
        let rx = Arc::new(Mutex::new(rx));
        for k in 0..connections.max(1) {
            let (endpoint, source) = spread.pick(k);
            let mut conn = Conn::new(endpoint.clone(), source, timeout);
            conn.connect()
                .await
                .with_context(|| format!("connecting to {}", endpoint.authority))?;
            tokio::spawn(serve(conn, Arc::clone(&rx)));
        }
        Ok(Self { tx })
    }

    pub async fn post_json(
        &self,
        path: &'static str,
        body: impl Into<Bytes>,
    ) -> anyhow::Result<Reply> {
        self.request(Method::POST, path, body.into()).await
    }

    pub async fn get(&self, path: &'static str) -> anyhow::Result<Reply> {
        self.request(Method::GET, path, Bytes::new()).await
    }

    async fn request(
        &self,
        method: Method,
        path: &'static str,
        body: Bytes,
    ) -> anyhow::Result<Reply> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job {
                method,
                path,
                body,
                reply,
            })
            .map_err(|_| anyhow::anyhow!("HTTP pool closed"))?;
        answer.await.context("HTTP connection task ended")?
    }
}

async fn serve(mut conn: Conn, rx: Arc<Mutex<mpsc::UnboundedReceiver<Job>>>) {
    loop {
        let job = { rx.lock().await.recv().await };
        let Some(job) = job else { return };
        let result = conn.send(job.method, job.path, job.body).await;
        let _ = job.reply.send(result);
    }
}

/// One keep-alive connection that reconnects when the server closed it.
struct Conn {
    endpoint: Endpoint,
    source: IpAddr,
    timeout: Duration,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    fn new(endpoint: Endpoint, source: IpAddr, timeout: Duration) -> Self {
        Self {
            endpoint,
            source,
            timeout,
            sender: None,
        }
    }

    async fn connect(&mut self) -> anyhow::Result<&mut SendRequest<Full<Bytes>>> {
        let stream = net::connect(self.source, self.endpoint.addr).await?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(self.sender.insert(sender))
    }

    async fn ready(&mut self) -> anyhow::Result<&mut SendRequest<Full<Bytes>>> {
        let usable = match self.sender.as_mut() {
            Some(s) if !s.is_closed() => s.ready().await.is_ok(),
            _ => false,
        };
        if !usable {
            self.sender = None;
            return self.connect().await;
        }
        self.sender.as_mut().context("connection vanished")
    }

    async fn send(
        &mut self,
        method: Method,
        path: &'static str,
        body: Bytes,
    ) -> anyhow::Result<Reply> {
        let timeout = self.timeout;
        let authority = self.endpoint.authority.clone();
        let exchange = async {
            let sender = self.ready().await?;
            let mut request = Request::builder()
                .method(method)
                .uri(path)
                .header(header::HOST, authority);
            if !body.is_empty() {
                request = request.header(header::CONTENT_TYPE, "application/json");
            }
            let response = sender.send_request(request.body(Full::new(body))?).await?;
            let status = response.status().as_u16();
            let body = response.into_body().collect().await?.to_bytes();
            Ok(Reply { status, body })
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => {
                if result.is_err() {
                    self.sender = None;
                }
                result
            }
            Err(_) => {
                // The connection may still deliver the late answer: start afresh.
                self.sender = None;
                bail!("no answer within {timeout:?}")
            }
        }
    }
}

//! Upgraded connections: WebSocket streams to the API server for exec, attach and port-forward.

use bytes::Bytes;
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;

use super::{ApiError, Client, Error};

/// A WebSocket to the API server.
pub type WebSocket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

impl Client {
    /// Opens a WebSocket on `path` offering `protocols`; returns it with the protocol the
    /// server chose.
    ///
    /// # Errors
    /// Connection failures; a refusal becomes [`Error::Api`] with the server's message.
    pub async fn websocket(
        &self,
        path: &str,
        protocols: &[&str],
    ) -> Result<(WebSocket, String), Error> {
        let tcp = self.connect().await?;
        let key = generate_key();
        let mut req = Request::builder()
            .method(Method::GET)
            .uri(path)
            .header(header::HOST, self.address())
            .header(header::CONNECTION, "Upgrade")
            .header(header::UPGRADE, "websocket")
            .header(header::SEC_WEBSOCKET_VERSION, "13")
            .header(header::SEC_WEBSOCKET_KEY, &key)
            .header(header::SEC_WEBSOCKET_PROTOCOL, protocols.join(", "))
            .header(header::USER_AGENT, "rkctl/v1.33.0 (linux/amd64) rkube");
        if let Some(auth) = &self.authorization {
            req = req.header(header::AUTHORIZATION, auth);
        }
        let req = req
            .body(Empty::<Bytes>::new())
            .map_err(|e| Error::Decode(e.to_string()))?;
        let mut resp = match &self.tls_upgrade {
            None => send(TokioIo::new(tcp), req).await?,
            Some(connector) => {
                let name = rustls::pki_types::ServerName::try_from(self.server_name.clone())
                    .map_err(|_| Error::BadServer(self.server_name.clone()))?;
                let stream = connector
                    .connect(name, tcp)
                    .await
                    .map_err(|e| Error::Connect(super::tls_message(&e)))?;
                send(TokioIo::new(stream), req).await?
            }
        };
        if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
            let status = resp.status();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| Error::Decode(e.to_string()))?
                .to_bytes();
            return Err(Error::Api(ApiError::from_response(status, &body)));
        }
        let accept = resp
            .headers()
            .get(header::SEC_WEBSOCKET_ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if accept != derive_accept_key(key.as_bytes()) {
            return Err(Error::Decode(
                "the server's WebSocket handshake is invalid".into(),
            ));
        }
        let protocol = resp
            .headers()
            .get(header::SEC_WEBSOCKET_PROTOCOL)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let io = hyper::upgrade::on(&mut resp)
            .await
            .map_err(|e| Error::Connect(e.to_string()))?;
        let ws = WebSocketStream::from_raw_socket(TokioIo::new(io), Role::Client, None).await;
        Ok((ws, protocol))
    }
}

async fn send<IO>(
    io: TokioIo<IO>,
    req: Request<Empty<Bytes>>,
) -> Result<http::Response<hyper::body::Incoming>, Error>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| Error::Connect(e.to_string()))?;
    tokio::spawn(conn.with_upgrades());
    sender
        .send_request(req)
        .await
        .map_err(|e| Error::Connect(e.to_string()))
}

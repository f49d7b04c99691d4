//! The kubelet's streams: exec and attach (the remote-command protocol over WebSocket) and
//! port-forward (SPDY, plain or inside a WebSocket). The API
//! server forwards `kubectl exec`/`attach` connections here unchanged, so the protocol is spoken
//! between kubectl and the kubelet.

pub mod http;
pub mod portforward;
pub mod remotecommand;
pub mod spdy;

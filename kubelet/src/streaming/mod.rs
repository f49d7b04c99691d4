//! The kubelet's streams: exec and attach (the remote-command protocol over WebSocket). The API
//! server forwards `kubectl exec`/`attach` connections here unchanged, so the protocol is spoken
//! between kubectl and the kubelet.

pub mod remotecommand;

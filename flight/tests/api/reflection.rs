//! Server reflection, as grpcurl uses it: the `google.rpc` error-detail messages
//! that the services put in their statuses (BadRequest, ErrorInfo, RetryInfo…)
//! are published, with the files they import, so that grpcurl prints the details
//! as text instead of a base64 blob. Every service serves reflection through the
//! kit's `serve_settling`; the flight service stands for them all.

use prost::Message;
use prost_types::FileDescriptorProto;
use tonic::transport::Channel;

use crate::helpers::TestFlight;

/// The error-detail messages a client must be able to decode, and what declares them.
const DETAILS: [(&str, &str); 4] = [
    ("google.rpc.BadRequest", "google/rpc/error_details.proto"),
    ("google.rpc.ErrorInfo", "google/rpc/error_details.proto"),
    ("google.rpc.RetryInfo", "google/rpc/error_details.proto"),
    ("google.rpc.Status", "google/rpc/status.proto"),
];

/// One reflection request and its answer, in either protocol version.
macro_rules! reflection_client {
    ($name:ident, $pb:path) => {
        mod $name {
            use pb::server_reflection_client::ServerReflectionClient;
            use pb::server_reflection_request::MessageRequest;
            use pb::server_reflection_response::MessageResponse;
            use $pb as pb;

            /// The encoded files the server answers `request` with, or its error message.
            pub async fn ask(channel: super::Channel, request: MessageRequest) -> Result<Vec<Vec<u8>>, String> {
                let request = pb::ServerReflectionRequest {
                    host: String::new(),
                    message_request: Some(request),
                };
                let mut answers = ServerReflectionClient::new(channel)
                    .server_reflection_info(futures::stream::iter([request]))
                    .await
                    .map_err(|s| s.to_string())?
                    .into_inner();
                let answer = answers
                    .message()
                    .await
                    .map_err(|s| s.to_string())?
                    .ok_or("no answer")?;
                match answer.message_response {
                    Some(MessageResponse::FileDescriptorResponse(files)) => Ok(files.file_descriptor_proto),
                    Some(MessageResponse::ErrorResponse(e)) => Err(e.error_message),
                    other => Err(format!("unexpected answer {other:?}")),
                }
            }

            pub fn symbol(name: &str) -> MessageRequest {
                MessageRequest::FileContainingSymbol(name.into())
            }

            pub fn file(name: &str) -> MessageRequest {
                MessageRequest::FileByFilename(name.into())
            }
        }
    };
}

reflection_client!(v1, tonic_reflection::pb::v1);
reflection_client!(v1alpha, tonic_reflection::pb::v1alpha);

fn decode(files: &[Vec<u8>]) -> Vec<FileDescriptorProto> {
    files
        .iter()
        .map(|f| FileDescriptorProto::decode(f.as_slice()).expect("a file descriptor"))
        .collect()
}

/// Checks that `ask` resolves every error-detail symbol to its file, and every
/// file that file imports (grpcurl needs the whole closure).
async fn check_details_are_published<F, Fut>(version: &str, ask: F)
where
    F: Fn(bool, String) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<Vec<u8>>, String>>,
{
    for (symbol, path) in DETAILS {
        let files = ask(true, symbol.into())
            .await
            .unwrap_or_else(|e| panic!("{version}: {symbol} is not published: {e}"));
        let files = decode(&files);
        let file = files
            .iter()
            .find(|f| f.name() == path)
            .unwrap_or_else(|| panic!("{version}: {symbol} answered without {path}"));
        let short = symbol.rsplit('.').next().unwrap_or(symbol);
        assert!(
            file.message_type.iter().any(|m| m.name() == short),
            "{version}: {path} declares {short}"
        );
        for import in &file.dependency {
            let imported = ask(false, import.clone())
                .await
                .unwrap_or_else(|e| panic!("{version}: {path} imports {import}, which is not published: {e}"));
            assert!(
                decode(&imported).iter().any(|f| f.name() == import),
                "{version}: {import}"
            );
        }
    }
}

#[tokio::test]
async fn error_details_are_readable_in_grpcurl() {
    // Arrange
    let flight = TestFlight::start().await;
    let channel = Channel::from_shared(format!("http://{}", flight.addr))
        .expect("uri")
        .connect()
        .await
        .expect("connect");

    // Act + Assert: both reflection versions (grpcurl before 1.9 speaks v1alpha only).
    check_details_are_published("v1", |symbol, name| {
        let request = if symbol { v1::symbol(&name) } else { v1::file(&name) };
        v1::ask(channel.clone(), request)
    })
    .await;
    check_details_are_published("v1alpha", |symbol, name| {
        let request = if symbol {
            v1alpha::symbol(&name)
        } else {
            v1alpha::file(&name)
        };
        v1alpha::ask(channel.clone(), request)
    })
    .await;
    flight.stop().await;
}

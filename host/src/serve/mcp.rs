//! A component's functions as MCP tools (the Model Context Protocol that
//! agents call tools by), on rmcp, the protocol's official Rust SDK:
//! `snakebox mcp` (stdio) and `snakebox serve`'s `/mcp` (streamable HTTP).
//!
//! Each function JSON can call is a tool named as callers name it (the
//! Python name, `module.function` in a package), described by its docstring
//! and Python signature, with the schemas of the OpenAPI document
//! (`snakebox_generator::openapi::tool_schemas`). A result is
//! `structuredContent` `{"result": value}` and its JSON text; a generator's
//! result is the list of its items, each also sent as a progress
//! notification when the client asked for progress. A Python exception, bad arguments, a
//! time or memory limit and a trap are tool results with `isError`, never
//! protocol errors. Calls run on the stores of a server's dispatcher, as
//! `serve`'s do, so async calls interleave and a sync one holds up no
//! other; a client's `notifications/cancelled` drops the call, and the
//! Python coroutine sees `CancelledError`.

use std::sync::Arc;

use futures::StreamExt as _;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, JsonObject,
    ListToolsResult, PaginatedRequestParams, ProgressNotificationParam, ProgressToken,
    ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{Peer, RequestContext};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt as _};
use serde_json::{Value, json};

use super::ServeOptions;
use super::dispatch::Dispatcher;
use super::reply::Failure;
use crate::app::App;
use crate::component::signature::Function;
use crate::error::{Error, Result};
use crate::values::arguments;

/// The tools of a component, and the stores their calls run on.
#[derive(Clone)]
pub struct Tools {
    dispatcher: Arc<Dispatcher>,
    tools: Arc<[(Tool, Arc<Function>)]>,
}

impl Tools {
    /// The tools of `app`, whose calls run on stores as `options` says (as
    /// [`Server::new`](super::Server::new) starts them). A function that
    /// JSON cannot call (it takes or returns objects) is left out, with a
    /// log line saying why.
    pub fn new(app: &App, options: ServeOptions) -> Result<Self> {
        let dispatcher = Dispatcher::new(app, &options)?;
        Ok(Self::on(app, Arc::new(dispatcher)))
    }

    /// The tools of `app`, whose calls run on `dispatcher`'s stores (a
    /// server's, which mounts them at `/mcp`).
    pub(super) fn on(app: &App, dispatcher: Arc<Dispatcher>) -> Self {
        let mut tools = Vec::new();
        for function in app.functions() {
            if function.uses_objects() {
                tracing::info!(
                    "`{}` is not a tool: it takes or returns objects, which JSON cannot hold",
                    function.call_name
                );
                continue;
            }
            tools.push((tool(function), Arc::clone(function)));
        }
        Tools {
            dispatcher,
            tools: tools.into(),
        }
    }

    /// The tools over MCP's streamable HTTP transport, as a tower service
    /// to mount (`serve` mounts it at `/mcp`). It answers only requests
    /// whose `Host` is a loopback name (rmcp's guard against DNS
    /// rebinding); `hosts` adds the names a deployment is reached by.
    pub fn http_service(
        &self,
        hosts: &[String],
    ) -> StreamableHttpService<Tools, LocalSessionManager> {
        let tools = self.clone();
        let mut config = StreamableHttpServerConfig::default();
        config.allowed_hosts.extend(hosts.iter().cloned());
        StreamableHttpService::new(
            move || Ok(tools.clone()),
            Arc::new(LocalSessionManager::default()),
            config,
        )
    }

    /// The tools over streamable HTTP with rmcp's own `Host` check off:
    /// for routers that put the server's guard (`Host` and `Origin`, see
    /// `guard`) in front, so that `/mcp` answers what the rest answers.
    pub(super) fn guarded_http_service(&self) -> StreamableHttpService<Tools, LocalSessionManager> {
        let tools = self.clone();
        StreamableHttpService::new(
            move || Ok(tools.clone()),
            Arc::new(LocalSessionManager::default()),
            StreamableHttpServerConfig::default().disable_allowed_hosts(),
        )
    }

    /// The tools as MCP lists them.
    pub fn list(&self) -> Vec<Tool> {
        self.tools.iter().map(|(tool, _)| tool.clone()).collect()
    }

    /// Serves the tools over stdin and stdout until the client closes them.
    /// Nothing else may write to stdout meanwhile: it is the protocol.
    pub async fn serve_stdio(self) -> Result<()> {
        let running = self
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| Error::Other(anyhow::anyhow!("the MCP session did not start: {e}")))?;
        running
            .waiting()
            .await
            .map_err(|e| Error::Other(anyhow::anyhow!("the MCP session failed: {e}")))?;
        Ok(())
    }

    /// Serves the tools over streamable HTTP at `/mcp` on `listener` until
    /// `shutdown`, with `options`' bounds on slow clients and connections
    /// and its `Host` and `Origin` checks.
    pub async fn serve_http(
        self,
        listener: tokio::net::TcpListener,
        options: &ServeOptions,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let router = axum::Router::new().nest_service("/mcp", self.guarded_http_service());
        let router = super::guard::layer(router, &options.guard());
        let limits = super::listen::Limits {
            header_timeout: options.header_timeout,
            max_connections: options.max_connections.max(1),
            shutdown_grace: options.shutdown_grace,
        }
        .within_descriptors();
        let overloaded = axum::Router::new()
            .fallback(super::too_many_connections)
            .with_state(limits.max_connections);
        super::listen::serve(listener, router, overloaded, limits, shutdown).await
    }

    /// Runs one tool call; every failure of the call itself is a tool error.
    /// A generator tells `progress` of each item, when the client asked.
    async fn run(
        &self,
        function: &Arc<Function>,
        arguments: JsonObject,
        progress: Option<Progress>,
    ) -> CallToolResult {
        let named: Vec<(String, Value)> = arguments.into_iter().collect();
        let outcome = match function.returns_stream() {
            true => self.items(function, &named, progress).await,
            false => self.value(function, &named).await,
        };
        match outcome {
            Ok(value) => {
                let mut result =
                    CallToolResult::success(vec![ContentBlock::text(value.to_string())]);
                result.structured_content = Some(json!({ "result": value }));
                result
            }
            Err(failure) => tool_error(failure),
        }
    }

    async fn value(
        &self,
        function: &Arc<Function>,
        named: &[(String, Value)],
    ) -> std::result::Result<Value, Failure> {
        let args = arguments::bind(function, &[], named).map_err(Failure::Call)?;
        let value = self.dispatcher.call(function, args).await?;
        Ok(arguments::result_json(function, value.as_ref()))
    }

    /// A generator's items, gathered into a list; with `progress`, a
    /// progress notification per item, the item's JSON as its message.
    async fn items(
        &self,
        function: &Arc<Function>,
        named: &[(String, Value)],
        progress: Option<Progress>,
    ) -> std::result::Result<Value, Failure> {
        let (_held, mut stream) = self.dispatcher.stream(function, &[], named).await?;
        let mut items = Vec::new();
        while let Some(item) = stream.next().await {
            let item = item.map_err(Failure::Call)?;
            if let Some((peer, token)) = &progress {
                let count = items.len() + 1;
                let note = ProgressNotificationParam::new(token.clone(), count as f64)
                    .with_message(item.to_string());
                // A client that went away is the call's end, seen next.
                let _ = peer.notify_progress(note).await;
            }
            items.push(item);
        }
        Ok(Value::Array(items))
    }
}

/// Where a call's progress goes: the client, and the token it asked for.
type Progress = (Peer<RoleServer>, ProgressToken);

/// The MCP form of a function: its name, its docstring with its Python
/// signature, and its schemas.
fn tool(function: &Function) -> Tool {
    let signature = function
        .python_signature()
        .unwrap_or_else(|| function.wit_signature());
    let description = match function.docs() {
        Some(docs) => format!("{docs}\n\n`{signature}`"),
        None => format!("`{signature}`"),
    };
    let (input, output) = match &function.described {
        Some(described) => {
            let (input, output) =
                snakebox_generator::openapi::tool_schemas(described.module(), described.function());
            (object(input), Some(object(output)))
        }
        // Typed by its WIT signature alone: any arguments by name.
        None => (object(json!({ "type": "object" })), None),
    };
    let mut tool = Tool::new(function.call_name.clone(), description, input);
    tool.output_schema = output.map(Arc::new);
    tool
}

fn object(schema: Value) -> JsonObject {
    match schema {
        Value::Object(map) => map,
        _ => JsonObject::new(),
    }
}

/// A failed call as a tool result with `isError`, saying what failed: a
/// Python exception with its type, message and traceback, bad arguments
/// naming the argument, a limit or a trap.
fn tool_error(failure: Failure) -> CallToolResult {
    let (text, detail) = match failure {
        Failure::Call(Error::Python(error)) => (
            format!("{error}\n\n{}", error.traceback),
            json!({ "type": error.type_name, "message": error.message, "traceback": error.traceback }),
        ),
        other => {
            let message = match other.body() {
                Ok(body) => body.message,
                Err(error) => error.to_string(),
            };
            (message.clone(), json!({ "message": message }))
        }
    };
    let mut result = CallToolResult::error(vec![ContentBlock::text(text)]);
    result.meta = serde_json::from_value(json!({ "snakebox/error": detail })).ok();
    result
}

impl ServerHandler for Tools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> std::result::Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.list()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResponse, ErrorData> {
        let Some((_, function)) = self
            .tools
            .iter()
            .find(|(tool, _)| tool.name == request.name)
        else {
            return Err(ErrorData::invalid_params(
                format!("no tool `{}`", request.name),
                None,
            ));
        };
        let token = request
            .meta
            .as_ref()
            .and_then(|meta| meta.get_progress_token())
            .or_else(|| context.meta.get_progress_token());
        let progress = token.map(|token| (context.peer.clone(), token));
        let arguments = request.arguments.unwrap_or_default();
        // A cancelled request drops the call: Python sees `CancelledError`.
        tokio::select! {
            result = self.run(function, arguments, progress) => Ok(result.into()),
            () = context.ct.cancelled() => Err(ErrorData::internal_error("the call was cancelled", None)),
        }
    }
}

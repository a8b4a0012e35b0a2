//! The module's classes, which WIT exports as resources: each with its
//! constructor, methods and static functions, found among the exports.

use std::fmt;
use std::sync::Arc;

use wasmtime::component::types::Type;
use wasmtime::component::{ComponentExportIndex, ResourceType};

use crate::component::signature::{Function, MemberKind};

/// A class of the module: a WIT resource with its constructor, methods and
/// static functions.
pub struct Class {
    /// The Python class name (`Account`), or the resource's name in
    /// PascalCase when the component carries no description.
    pub name: String,
    /// The WIT resource name (`account`).
    pub wit_name: String,
    /// The exported interface it belongs to.
    pub interface: Option<String>,
    /// The type of its handles, known from the constructor's result.
    pub(crate) resource: Option<ResourceType>,
    constructor: Option<Arc<Function>>,
    members: Vec<Arc<Function>>,
    /// The runtime's `snakebox-release` method, which lets the Python
    /// object go before its handle is dropped (components snakebox builds
    /// have it).
    pub(crate) release: Option<ComponentExportIndex>,
}

impl Class {
    /// Groups class members (functions with a [`Function::member`]) by class.
    pub(crate) fn gather(members: Vec<Function>) -> Vec<Arc<Class>> {
        let mut classes: Vec<Class> = Vec::new();
        for function in members {
            let Some(member) = function.member.clone() else {
                continue;
            };
            let position = classes
                .iter()
                .position(|c| c.wit_name == member.class && c.interface == function.interface);
            let index = position.unwrap_or_else(|| {
                let name = function
                    .described
                    .as_ref()
                    .and_then(|d| d.class())
                    .map_or_else(
                        || snakebox_generator::class_name(&member.class),
                        |class| class.name.clone(),
                    );
                classes.push(Class {
                    name,
                    wit_name: member.class.clone(),
                    interface: function.interface.clone(),
                    resource: None,
                    constructor: None,
                    members: Vec::new(),
                    release: None,
                });
                classes.len() - 1
            });
            let class = &mut classes[index];
            match member.kind {
                _ if function.is_release() => class.release = Some(function.index),
                MemberKind::Constructor => {
                    class.resource = owned_resource(function.result.as_ref());
                    class.constructor = Some(Arc::new(function));
                }
                _ => class.members.push(Arc::new(function)),
            }
        }
        classes.into_iter().map(Arc::new).collect()
    }

    /// The constructor (`__init__`), which [`Calls::call_values`](crate::Calls::call_values) calls by
    /// the class's name.
    pub fn constructor(&self) -> Option<&Arc<Function>> {
        self.constructor.as_ref()
    }

    /// The methods and static functions, in the order the component
    /// exports them.
    pub fn members(&self) -> &[Arc<Function>] {
        &self.members
    }

    /// A method or static function by its Python or WIT name.
    pub fn member(&self, name: &str) -> Option<&Arc<Function>> {
        self.members
            .iter()
            .find(|f| f.python_name == name || f.name == name)
    }

    /// The class as the generator described it: docs, Python signatures.
    pub fn described(&self) -> Option<&snakebox_generator::Class> {
        self.constructor
            .iter()
            .chain(&self.members)
            .find_map(|f| f.described.as_ref()?.class())
    }

    /// The class docstring, when the component carries a description.
    pub fn docs(&self) -> Option<&str> {
        self.described()?.docs.as_deref()
    }
}

impl fmt::Debug for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let members: Vec<&str> = self.members.iter().map(|m| m.call_name.as_str()).collect();
        f.debug_struct("Class")
            .field("name", &self.name)
            .field("wit_name", &self.wit_name)
            .field("members", &members)
            .finish()
    }
}

/// The resource type of `result<own<T>, E>`, or of `own<T>`.
fn owned_resource(result: Option<&Type>) -> Option<ResourceType> {
    match result? {
        Type::Result(result) => owned_resource(result.ok().as_ref()),
        Type::Own(resource) => Some(*resource),
        _ => None,
    }
}

//! (in progress)

/// What shards say to each other. Media travels as one refcounted packet per shard.
#[derive(Debug)]
pub enum ShardMessage {}

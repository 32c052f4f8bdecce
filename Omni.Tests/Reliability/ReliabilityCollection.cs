namespace Omni.Tests.Reliability;

/// <summary>The fault scenarios run one at a time: each starts its own app process and servers, and the figures mean more without a neighbour's load.</summary>
[CollectionDefinition(nameof(ReliabilityCollection))]
public sealed class ReliabilityCollection;

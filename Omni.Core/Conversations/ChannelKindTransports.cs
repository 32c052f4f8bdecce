using System.Diagnostics.CodeAnalysis;
using Omni.Channels;

namespace Omni.Conversations;

/// <summary>A channel kind's outbound side, declared with the kind (<c>AddChannelKind</c>) and looked up by the outbound sender.</summary>
internal static class ChannelKindTransports
{
    public static ChannelKindBuilder Transport<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TTransport>(this ChannelKindBuilder kind) where TTransport : class, IOutboundTransport =>
        kind.Part<IOutboundTransport, TTransport>(ChannelPart.Transport);
}

using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Omni.Channels;

/// <summary>The parts a channel kind is made of, besides its settings rules.</summary>
public enum ChannelPart
{
    /// <summary>"Testar Configurações": an <see cref="IChannelTester"/>.</summary>
    Tester,

    /// <summary>How outbound messages leave: an <c>IOutboundTransport</c>.</summary>
    Transport,

    /// <summary>How messages arrive: a mailbox poller, a provider webhook, or the integrator's own calls.</summary>
    Inbound,
}

/// <summary>
/// How a kind fills one part: by the service registered under its type (<see cref="Implementation"/>), by
/// something that is not a service (<see cref="Description"/>, such as an endpoint), or not at all, on purpose
/// (<see cref="AbsentBecause"/>).
/// </summary>
public sealed record ChannelPartDeclaration(ChannelPart Part, Type? Implementation, string? Description, string? AbsentBecause)
{
    public bool IsPresent => AbsentBecause is null;
}

/// <summary>What one registration of a channel kind declared; the services themselves are keyed by <see cref="Type"/>.</summary>
public sealed class ChannelKind(string type)
{
    private readonly Dictionary<ChannelPart, ChannelPartDeclaration> _parts = [];

    public string Type => type;

    public Type? SettingsRules { get; internal set; }

    /// <summary>A scope needed, beyond <c>channels:write</c>, to create or edit channels of this kind, and what the 403 says.</summary>
    public (string Scope, string Detail)? EditScope { get; internal set; }

    public IReadOnlyDictionary<ChannelPart, ChannelPartDeclaration> Parts => _parts;

    internal void Declare(ChannelPartDeclaration declaration)
    {
        if (!_parts.TryAdd(declaration.Part, declaration))
        {
            throw new InvalidOperationException($"The '{type}' channel kind declares its {declaration.Part} twice.");
        }
    }
}

/// <summary>
/// Every channel kind the app knows, one registration each (<see cref="ChannelKindServiceCollectionExtensions.AddChannelKind"/>):
/// the one place that answers which types exist and which settings rules, tester, transport and inbound side a
/// type has. Parts are keyed singletons under the type, so a later keyed registration (a test's stand-in) wins.
/// </summary>
public sealed class ChannelKinds(IServiceProvider services, IEnumerable<ChannelKind> kinds)
{
    private readonly Dictionary<string, ChannelKind> _kinds = kinds.ToDictionary(k => k.Type, StringComparer.Ordinal);

    /// <summary>The registered types, in registration order (the order the "must be one of" message lists them).</summary>
    public IReadOnlyList<string> Types { get; } = kinds.Select(k => k.Type).ToList();

    public bool IsKnown(string? type) => type is not null && _kinds.ContainsKey(type);

    public ChannelKind? Find(string type) => _kinds.GetValueOrDefault(type);

    internal IChannelSettingsRules Settings(string type) => services.GetRequiredKeyedService<IChannelSettingsRules>(type);

    public IChannelTester? Tester(string type) => Part<IChannelTester>(type);

    /// <summary>The service a kind registered for a part (a transport, a mailbox poller), or null when it has none.</summary>
    public TPart? Part<TPart>(string type) where TPart : class => IsKnown(type) ? services.GetKeyedService<TPart>(type) : null;

    /// <summary>Why a type has no such part, as its registration says; null when it has one or the type is unknown.</summary>
    public string? AbsentBecause(string type, ChannelPart part) =>
        Find(type)?.Parts.GetValueOrDefault(part)?.AbsentBecause;
}

/// <summary>Declares one channel kind's parts. Each part is given, or left out with the reason.</summary>
internal sealed class ChannelKindBuilder(IServiceCollection services, ChannelKind kind)
{
    public string Type => kind.Type;

    public ChannelKindBuilder Settings<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TRules>() where TRules : class, IChannelSettingsRules
    {
        services.AddKeyedSingleton<IChannelSettingsRules, TRules>(kind.Type);
        kind.SettingsRules = typeof(TRules);
        return this;
    }

    /// <summary>Channels of this kind are created and edited only by callers that also hold <paramref name="scope"/>.</summary>
    public ChannelKindBuilder EditedWithScope(string scope, string detail)
    {
        kind.EditScope = (scope, detail);
        return this;
    }

    public ChannelKindBuilder Tester<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TTester>() where TTester : class, IChannelTester => Part<IChannelTester, TTester>(ChannelPart.Tester);

    public ChannelKindBuilder NoTester(string reason) => Absent(ChannelPart.Tester, reason);

    public ChannelKindBuilder NoTransport(string reason) => Absent(ChannelPart.Transport, reason);

    /// <summary>An inbound side that is not a service of its own, such as an endpoint the integrator calls.</summary>
    public ChannelKindBuilder Inbound(string description)
    {
        kind.Declare(new ChannelPartDeclaration(ChannelPart.Inbound, null, description, null));
        return this;
    }

    public ChannelKindBuilder NoInbound(string reason) => Absent(ChannelPart.Inbound, reason);

    /// <summary>
    /// Registers <typeparamref name="TImplementation"/> as this kind's <typeparamref name="TService"/>, keyed by the
    /// type. It is also resolvable among all <typeparamref name="TService"/>s, for code that fans out over every kind
    /// (the mailbox poll timer), and that entry follows the keyed one, so replacing the keyed service replaces both.
    /// </summary>
    internal ChannelKindBuilder Part<TService, [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TImplementation>(ChannelPart part)
        where TService : class
        where TImplementation : class, TService
    {
        kind.Declare(new ChannelPartDeclaration(part, typeof(TImplementation), null, null));
        services.AddKeyedSingleton<TService, TImplementation>(kind.Type);
        var type = kind.Type;
        services.AddSingleton<TService>(sp => sp.GetRequiredKeyedService<TService>(type));
        return this;
    }

    internal ChannelKindBuilder Absent(ChannelPart part, string reason)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        kind.Declare(new ChannelPartDeclaration(part, null, null, reason));
        return this;
    }
}

internal static class ChannelKindServiceCollectionExtensions
{
    /// <summary>
    /// Registers one channel kind. Every part must be declared, present or absent with a reason, so a kind never
    /// lacks a part by accident; a type registered twice is refused.
    /// </summary>
    public static IServiceCollection AddChannelKind(this IServiceCollection services, string type, Action<ChannelKindBuilder> configure)
    {
        if (services.Any(d => d.ServiceType == typeof(ChannelKind) && d.ImplementationInstance is ChannelKind k && k.Type == type))
        {
            throw new InvalidOperationException($"The '{type}' channel kind is registered twice.");
        }

        var kind = new ChannelKind(type);
        configure(new ChannelKindBuilder(services, kind));
        if (kind.SettingsRules is null)
        {
            throw new InvalidOperationException($"The '{type}' channel kind has no settings rules.");
        }

        foreach (var part in Enum.GetValues<ChannelPart>().Where(p => !kind.Parts.ContainsKey(p)))
        {
            throw new InvalidOperationException($"The '{type}' channel kind says nothing of its {part}: give one, or say why it has none.");
        }

        services.AddSingleton(kind);
        services.TryAddSingleton<ChannelKinds>();
        return services;
    }
}

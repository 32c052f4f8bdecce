using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Omni.Tests.MicrosoftEmail;

/// <summary>
/// A certificate authority made in memory for one test class, and a server certificate for 127.0.0.1 it signed.
/// Only HttpClient handlers made by <see cref="CreateTrustingHandler"/> trust it: nothing is added to the machine.
/// </summary>
public sealed class TestCertificateAuthority : IDisposable
{
    private TestCertificateAuthority(X509Certificate2 root, X509Certificate2 server)
    {
        Root = root;
        ServerCertificate = server;
    }

    public X509Certificate2 Root { get; }

    public X509Certificate2 ServerCertificate { get; }

    public static TestCertificateAuthority Create()
    {
        var now = DateTimeOffset.UtcNow;
        using var rootKey = RSA.Create(2048);
        var rootRequest = new CertificateRequest("CN=Omni Tests Root CA", rootKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        rootRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        rootRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        rootRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(rootRequest.PublicKey, false));
        using var rootWithKey = rootRequest.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1));

        using var serverKey = RSA.Create(2048);
        var serverRequest = new CertificateRequest("CN=127.0.0.1", serverKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        serverRequest.CertificateExtensions.Add(names.Build());
        serverRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        serverRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        serverRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var signed = serverRequest.Create(rootWithKey, now.AddMinutes(-5), now.AddHours(12), RandomNumberGenerator.GetBytes(16));
        using var serverWithKey = signed.CopyWithPrivateKey(serverKey);

        // Round-trip through PKCS#12 so SslStream gets a key it can use on every platform.
        var server = X509CertificateLoader.LoadPkcs12(serverWithKey.Export(X509ContentType.Pkcs12), null);
        var root = X509CertificateLoader.LoadCertificate(rootWithKey.Export(X509ContentType.Cert));
        return new TestCertificateAuthority(root, server);
    }

    /// <summary>A primary handler that trusts this CA (and only it) for server certificates.</summary>
    public HttpMessageHandler CreateTrustingHandler() => new SocketsHttpHandler
    {
        SslOptions = new SslClientAuthenticationOptions
        {
            CertificateChainPolicy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                CustomTrustStore = { Root },
                RevocationMode = X509RevocationMode.NoCheck,
            },
        },
    };

    public void Dispose()
    {
        Root.Dispose();
        ServerCertificate.Dispose();
    }
}

//! `rkctl completion bash|zsh`: a shell completion script: verbs, flags that take files,
//! namespaces and contexts, resource types, and object names asked from the server.

use clap::Args;

use super::out;

/// Flags of `rkctl completion`.
#[derive(Debug, Args)]
pub struct Opts {
    /// bash or zsh.
    shell: String,
}

const BASH: &str = r#"# rkctl completion for bash: source <(rkctl completion bash)
__rkctl_flag_value() {
    local i
    for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do
        if [[ "${COMP_WORDS[i]}" == "$1" ]]; then
            printf '%s' "${COMP_WORDS[i+1]}"
            return
        fi
    done
}

__rkctl() {
    local ns ctx
    ns=$(__rkctl_flag_value -n)
    [[ -z "$ns" ]] && ns=$(__rkctl_flag_value --namespace)
    ctx=$(__rkctl_flag_value --context)
    rkctl ${ns:+-n "$ns"} ${ctx:+--context "$ctx"} "$@" 2>/dev/null
}

_rkctl() {
    local cur prev verbs
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    verbs="annotate api-resources apply autoscale completion config cordon create delete describe diff drain edit explain expose get label logs patch replace rollout run scale set taint top uncordon version wait"
    COMPREPLY=()
    case "$prev" in
        -f|--filename|--kubeconfig|--patch-file)
            COMPREPLY=($(compgen -f -- "$cur"))
            return
            ;;
        -n|--namespace)
            COMPREPLY=($(compgen -W "$(__rkctl get namespaces -o name | sed 's|^namespace/||')" -- "$cur"))
            return
            ;;
        --context)
            COMPREPLY=($(compgen -W "$(__rkctl config get-contexts -o name)" -- "$cur"))
            return
            ;;
        -o|--output)
            COMPREPLY=($(compgen -W "json yaml name wide jsonpath= custom-columns=" -- "$cur"))
            return
            ;;
    esac
    if [[ "$cur" == -* ]]; then
        return
    fi
    local verb="" positional=() i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            -n|--namespace|--context|--cluster|--user|--kubeconfig|-s|--server|--token|-o|--output|-l|--selector|-f|--filename|-c|--container) ((i++)) ;;
            -*) ;;
            *) if [[ -z "$verb" ]]; then verb="${COMP_WORDS[i]}"; else positional+=("${COMP_WORDS[i]}"); fi ;;
        esac
    done
    if [[ -z "$verb" ]]; then
        COMPREPLY=($(compgen -W "$verbs" -- "$cur"))
        return
    fi
    case "$verb" in
        config)
            if [[ ${#positional[@]} -eq 0 ]]; then
                COMPREPLY=($(compgen -W "view get-contexts current-context use-context set-context" -- "$cur"))
            elif [[ "${positional[0]}" == use-context || "${positional[0]}" == set-context ]]; then
                COMPREPLY=($(compgen -W "$(__rkctl config get-contexts -o name)" -- "$cur"))
            fi
            ;;
        rollout)
            if [[ ${#positional[@]} -eq 0 ]]; then
                COMPREPLY=($(compgen -W "status restart pause resume history undo" -- "$cur"))
            else
                COMPREPLY=($(compgen -W "$(__rkctl get deployments,daemonsets,statefulsets -o name)" -- "$cur"))
            fi
            ;;
        cordon|uncordon|drain|taint)
            COMPREPLY=($(compgen -W "$(__rkctl get nodes -o name | sed 's|^node/||')" -- "$cur"))
            ;;
        logs)
            COMPREPLY=($(compgen -W "$(__rkctl get pods -o name | sed 's|^pod/||')" -- "$cur"))
            ;;
        top)
            COMPREPLY=($(compgen -W "pod node" -- "$cur"))
            ;;
        completion)
            COMPREPLY=($(compgen -W "bash zsh" -- "$cur"))
            ;;
        get|describe|delete|edit|label|annotate|scale|patch|explain|wait|expose|autoscale|set)
            if [[ ${#positional[@]} -eq 0 && "$cur" != */* ]]; then
                COMPREPLY=($(compgen -W "$(__rkctl api-resources -o name | sed 's|\.v1$||') all" -- "$cur"))
            elif [[ "$cur" == */* ]]; then
                COMPREPLY=($(compgen -W "$(__rkctl get "${cur%%/*}" -o name | sed "s|^[^/]*/|${cur%%/*}/|")" -- "$cur"))
            else
                COMPREPLY=($(compgen -W "$(__rkctl get "${positional[0]}" -o name | sed 's|^[^/]*/||')" -- "$cur"))
            fi
            ;;
    esac
}

complete -o default -F _rkctl rkctl
"#;

/// The script for `shell`.
///
/// # Errors
/// Shells other than bash and zsh.
pub fn script(shell: &str) -> anyhow::Result<String> {
    match shell {
        "bash" => Ok(BASH.to_owned()),
        "zsh" => Ok(format!(
            "# rkctl completion for zsh: source <(rkctl completion zsh)\nautoload -U +X compinit && compinit\nautoload -U +X bashcompinit && bashcompinit\n{BASH}"
        )),
        other => anyhow::bail!("Unsupported shell type \"{other}\"."),
    }
}

/// Runs `rkctl completion`.
///
/// # Errors
/// As [`script`].
pub fn run(o: Opts) -> anyhow::Result<()> {
    out(&script(&o.shell)?);
    Ok(())
}
